# Replays each libFuzzer target's seed corpus (fuzz/corpus/<name>/) through its oracle with
# fuzz/replay_main.cpp instead of libFuzzer, so the normal build (GCC, ASan+UBSan in CI) checks
# every seed: fuzz_<name>_replay, label `unit`. The targets link the project's libraries.
set(fuzz_dir ${PROJECT_SOURCE_DIR}/fuzz)
set(fuzz_replays
  "pg_codec:apono_proxy"
  "duration:apono_common"
  "ssh_cert:apono_broker"
  "config:apono_broker"
  "api_json:apono_broker")
foreach(entry IN LISTS fuzz_replays)
  string(REPLACE ":" ";" parts ${entry})
  list(GET parts 0 name)
  list(GET parts 1 library)
  if(NOT EXISTS ${fuzz_dir}/${name}_fuzz.cpp OR NOT IS_DIRECTORY ${fuzz_dir}/corpus/${name})
    continue()
  endif()
  add_executable(fuzz_${name}_replay ${fuzz_dir}/${name}_fuzz.cpp ${fuzz_dir}/replay_main.cpp)
  target_link_libraries(fuzz_${name}_replay PRIVATE ${library})
  add_test(NAME fuzz_${name}_replay COMMAND fuzz_${name}_replay ${fuzz_dir}/corpus/${name})
  set_tests_properties(fuzz_${name}_replay PROPERTIES LABELS unit TIMEOUT 120)
endforeach()
