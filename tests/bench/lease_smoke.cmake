# bench.lease_smoke: runs `fedmesh-bench lease --json` small (50 leases,
# 1 s of concurrent borrowing) and checks that it ends well, that its JSON
# has every field, that leases_measured is 50 and that both ledgers hold
# every lease granted. It never checks a speed: the figures of a loaded CI
# machine say nothing.
#
#   cmake -DBENCH=fedmesh-bench -DFEDMESH=fedmesh -DDIR=scratch -P lease_smoke.cmake
cmake_minimum_required(VERSION 3.20) # string(JSON)
foreach(var BENCH FEDMESH DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "lease_smoke: -D${var}=... is required")
  endif()
endforeach()
file(MAKE_DIRECTORY ${DIR})

execute_process(
  COMMAND ${BENCH} lease --json --leases 50 --seconds 1 --fedmesh ${FEDMESH} --dir ${DIR}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 100)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "lease_smoke: fedmesh-bench lease exited ${rc}\n${err}\n${out}")
endif()

set(fields
  bench agents raw_rtt_p50_us raw_rtt_message_size raw_rtt_samples raw_sync_p50_us
  raw_sync_value_size raw_sync_samples lease_p50_us lease_p99_us leases_measured
  lease_p50_us_goal lease_goal_met leases_per_s concurrency throughput_seconds_asked
  throughput_seconds throughput_leases throughput_errors throughput_stopped_by throughput_mean_us
  throughput_p50_us
  throughput_p99_us leases_per_s_goal leases_per_s_goal_met sign_p50_us verify_p50_us
  crypto_message_size lender_signs_per_lease lender_verifies_per_lease crypto_bound_leases_per_s
  ratio_throughput ratio_throughput_goal ratio_goal_met leases_granted_total borrower_open_leases
  lender_open_leases leases_max cpus phases ledger_dir ledger_fs ledger_fs_source note)
foreach(field ${fields})
  string(JSON value ERROR_VARIABLE missing GET "${out}" ${field})
  if(missing)
    message(FATAL_ERROR "lease_smoke: no field ${field}: ${missing}\n${out}")
  endif()
  set(v_${field} "${value}")
endforeach()
foreach(phase sequential concurrent)
  foreach(agent borrower lender)
    foreach(counter cpus cpu_us_per_lease loop_thread_cpus loop_thread_waiting_for_cpu
                    send_dropped queue_dropped http_busy ledger_commits
                    ledger_commit_mean_us message_calls message_call_mean_us lease_retries
                    lease_rejected)
      string(JSON value ERROR_VARIABLE missing GET "${out}" phases ${phase} ${agent} ${counter})
      if(missing)
        message(FATAL_ERROR "lease_smoke: no phases.${phase}.${agent}.${counter}\n${out}")
      endif()
    endforeach()
  endforeach()
  foreach(field elapsed_s bench_cpus machine_busy_cpus other_processes_cpus)
    string(JSON value ERROR_VARIABLE missing GET "${out}" phases ${phase} ${field})
    if(missing)
      message(FATAL_ERROR "lease_smoke: no phases.${phase}.${field}\n${out}")
    endif()
  endforeach()
endforeach()

if(NOT v_leases_measured EQUAL 50 OR NOT v_agents EQUAL 2)
  message(FATAL_ERROR "lease_smoke: leases_measured ${v_leases_measured} (want 50), agents ${v_agents}")
endif()
if(NOT v_borrower_open_leases EQUAL v_leases_granted_total OR
   NOT v_lender_open_leases EQUAL v_leases_granted_total)
  message(FATAL_ERROR "lease_smoke: the ledgers hold ${v_borrower_open_leases} and "
    "${v_lender_open_leases} open leases; ${v_leases_granted_total} were granted")
endif()
# Some leases must land in the concurrent phase too; how many is a speed.
if(v_throughput_leases LESS 1)
  message(FATAL_ERROR "lease_smoke: no lease granted in the concurrent phase\n${err}")
endif()
message(STATUS "lease_smoke: ok (lease p50 ${v_lease_p50_us} us, ${v_leases_per_s} leases/s; not checked)")
