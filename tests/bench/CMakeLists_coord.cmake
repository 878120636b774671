# fer-bench-coordinator (prints figures; not a test): fan-in latency of evaluation
# reports, checkpoint ingest throughput and server memory; tests/bench/bench_coord.sh.
# Included from tests/CMakeLists.txt.
add_executable(fer-bench-coordinator ${PROJECT_SOURCE_DIR}/tests/bench/coord_bench.cpp)
target_include_directories(fer-bench-coordinator PRIVATE ${PROJECT_SOURCE_DIR}/src)
target_link_libraries(fer-bench-coordinator PRIVATE fer_coord fer_coord_protocol fer_common
                      CLI11::CLI11 nlohmann_json::nlohmann_json fer_warnings)
