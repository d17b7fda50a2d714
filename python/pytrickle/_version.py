# Static version record (upstream generates this file with setuptools-scm).
__version__ = version = "0.1.6"
__version_tuple__ = version_tuple = (0, 1, 6)
__commit_id__ = commit_id = None
