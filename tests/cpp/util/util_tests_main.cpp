#define BOOST_TEST_MODULE util_tests
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
