# Static version record (upstream generates this file with setuptools-scm; the names it defines
# are all here, for code that reads them).
TYPE_CHECKING = False
# The annotations' aliases: typing expressions under a type checker, plain `object` at run time.
VERSION_TUPLE = object
COMMIT_ID = object

__version__ = version = "0.1.6"
__version_tuple__ = version_tuple = (0, 1, 6)
__commit_id__ = commit_id = None
