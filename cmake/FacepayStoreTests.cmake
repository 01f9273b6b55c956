# Store tests need the throwaway PostgreSQL server (ctest fixture facepay_pg, defined in
# tests/support). facepay_discover_store_tests(target) registers a gtest executable's tests
# with that fixture and the file where the server's URL is written.
set(FACEPAY_PG_TEST_DIR "${CMAKE_BINARY_DIR}/pg-test")
function(facepay_discover_store_tests target)
  gtest_discover_tests(${target}
    DISCOVERY_TIMEOUT 60
    PROPERTIES FIXTURES_REQUIRED facepay_pg
               ENVIRONMENT "FACEPAY_TEST_PG_URL_FILE=${FACEPAY_PG_TEST_DIR}/url")
endfunction()
