# tests/sim/sim.cmake: the simulator's scenario tests (label sim), included
# from tests/CMakeLists.txt. The unit tests of sim/'s parts
# (tests/unit/sim_*_test.c) register themselves there through
# MESH_LIB_sim.
set(MESH_SIM_SCRIPTS ${CMAKE_CURRENT_SOURCE_DIR}/sim)

# The embedded latency table matches data/latency-eu-rtt-ms.csv.
add_test(NAME sim.latency_table
  COMMAND ${MESH_SIM_SCRIPTS}/latency_table_test.sh ${PROJECT_SOURCE_DIR})
# One seed run twice: byte-identical JSON, digest included.
add_test(NAME sim.determinism
  COMMAND ${MESH_SIM_SCRIPTS}/determinism_test.sh $<TARGET_FILE:fedmesh>)
# N=50, 1 % loss, two crashes, a 60 s partition, seeds 1..5.
foreach(seed RANGE 1 5)
  add_test(NAME sim.gossip_seed${seed}
    COMMAND ${MESH_SIM_SCRIPTS}/gossip_scenario_test.sh $<TARGET_FILE:fedmesh> ${seed})
endforeach()
# Hostile members refused by reason; the federation unaffected.
add_test(NAME sim.hostile COMMAND ${MESH_SIM_SCRIPTS}/hostile_test.sh $<TARGET_FILE:fedmesh>)
# The shared caches: the same JSON and digest with --no-verify-cache; a
# shared frame store that refuses a frame fails the run.
add_test(NAME sim.verify_cache COMMAND ${MESH_SIM_SCRIPTS}/verify_cache_test.sh $<TARGET_FILE:fedmesh>)
set_tests_properties(sim.hostile sim.latency_table sim.determinism sim.verify_cache
  sim.gossip_seed1 sim.gossip_seed2 sim.gossip_seed3 sim.gossip_seed4 sim.gossip_seed5
  PROPERTIES TIMEOUT 120 LABELS sim)

# No healthy member declared down (tests/sim/false_down_sweep.sh): N = 200,
# seeds 1..10, at 1 % and at 5 % loss (about 25 s of CPU in all). The
# 100-seed N = 1,000 version runs only with FEDMESH_LONG_SWEEP=1 (hours of
# CPU; README "Failure detection" has its figures); otherwise it skips.
add_test(NAME sim.false_down_sweep
  COMMAND ${MESH_SIM_SCRIPTS}/false_down_sweep_test.sh $<TARGET_FILE:fedmesh> short)
add_test(NAME sim.false_down_sweep_long
  COMMAND ${MESH_SIM_SCRIPTS}/false_down_sweep_test.sh $<TARGET_FILE:fedmesh> long)
set_tests_properties(sim.false_down_sweep PROPERTIES TIMEOUT 600 LABELS sim)
set_tests_properties(sim.false_down_sweep_long PROPERTIES TIMEOUT 36000 LABELS "sim;long"
  SKIP_RETURN_CODE 77)

# The lease scenario (fedmesh sim leases): whole members with lease traffic,
# bursts, loss, crashes and hostile members, every invariant checked during
# the run. Each seed runs N=8 for 30 virtual minutes plus the drain (about a
# second of wall time) and must end with invariant_violations == 0.
foreach(seed 1 2 3 4 5)
  add_test(NAME sim.leases_seed${seed}
    COMMAND ${MESH_SIM_SCRIPTS}/leases_scenario_test.sh $<TARGET_FILE:fedmesh> ${seed})
  set_tests_properties(sim.leases_seed${seed} PROPERTIES TIMEOUT 60 LABELS sim)
endforeach()
# Same seed twice: identical bytes; another seed: another digest.
add_test(NAME sim.leases_determinism
  COMMAND ${MESH_SIM_SCRIPTS}/leases_determinism_test.sh $<TARGET_FILE:fedmesh>)
# The checker catches a violation (--inject-violation) and fails the run.
add_test(NAME sim.leases_checker
  COMMAND ${MESH_SIM_SCRIPTS}/leases_checker_test.sh $<TARGET_FILE:fedmesh>)
# The simulator runs a checked core (MESH_SIMULATOR) that the release core
# in the same binary never sees.
add_test(NAME sim.checked_core
  COMMAND ${MESH_SIM_SCRIPTS}/checked_core_test.sh $<TARGET_FILE:fedmesh>
    $<TARGET_FILE:mesh_wire> ${CMAKE_BINARY_DIR}/sim/mesh_sim_checked.o)
set_tests_properties(sim.leases_determinism sim.leases_checker sim.checked_core
  PROPERTIES TIMEOUT 120 LABELS sim)
# The long sweep (tests/sim/leases_sweep.sh SEEDS) is not part of the suite;
# README "Simulator" says how to run it.

# Bugs the lease scenario found in lease/ and member/ (fixed in e4a6c31),
# each reproduced with two or three members (tests/unit/member_cluster.h):
# regression tests.
foreach(bug burst_deadline release_race restore_acceptance late_unfit lender_restart)
  add_executable(sim_bug_${bug} ${MESH_SIM_SCRIPTS}/bug_${bug}_test.c)
  target_link_libraries(sim_bug_${bug} PRIVATE mesh_member PkgConfig::CMOCKA)
  set_target_properties(sim_bug_${bug} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  add_test(NAME sim.bug_${bug} COMMAND sim_bug_${bug})
  set_tests_properties(sim.bug_${bug} PROPERTIES TIMEOUT 60 LABELS sim)
endforeach()

# The simulator's report (node/sim_report.c, `fedmesh sim report DIR`) from
# run files written by the test: five plots per site, the tables, nothing
# remote, no gnuplot, bad input; and in headless Chromium, every plot
# rendered (chromium required: FEDMESH_NO_BROWSER=1 skips, loudly).
add_test(NAME sim.report_files
  COMMAND ${MESH_SIM_SCRIPTS}/report_html_test.sh $<TARGET_FILE:fedmesh> ${PROJECT_SOURCE_DIR} files)
add_test(NAME sim.report_browser
  COMMAND ${MESH_SIM_SCRIPTS}/report_html_test.sh $<TARGET_FILE:fedmesh> ${PROJECT_SOURCE_DIR} browser)
# Sweeps (node/cli_sim_sweep.c): the aggregate against figures computed in
# the test; the sweep end to end (failures counted, the Slurm script run
# by hand, a real sweep of tests/sim/scenarios/small.ini).
add_test(NAME sim.sweep_aggregate
  COMMAND ${MESH_SIM_SCRIPTS}/sweep_aggregate_test.sh $<TARGET_FILE:fedmesh>)
add_test(NAME sim.sweep_run
  COMMAND ${MESH_SIM_SCRIPTS}/sweep_run_test.sh $<TARGET_FILE:fedmesh> ${PROJECT_SOURCE_DIR})
set_tests_properties(sim.report_files sim.report_browser sim.sweep_aggregate sim.sweep_run
  PROPERTIES TIMEOUT 300 LABELS sim SKIP_RETURN_CODE 77)
# integration.slurm_sweep (registered by the integration glob) starts a
# private Slurm cluster and runs a sweep as a job array: more time.
if(TEST integration.slurm_sweep)
  set_tests_properties(integration.slurm_sweep PROPERTIES TIMEOUT 600)
endif()
# The trace readers (sim/trace.h through node/sim_input.c): both whole SWF
# logs in data/ (gzip) load with every counter equal to what awk counts in
# the file; the GPU jobs CSV; strict and lenient malformed lines; a damaged
# gzip file.
add_test(NAME sim.trace_swf
  COMMAND ${MESH_SIM_SCRIPTS}/trace_swf_test.sh $<TARGET_FILE:fedmesh> ${PROJECT_SOURCE_DIR})
set_tests_properties(sim.trace_swf PROPERTIES TIMEOUT 120 LABELS sim SKIP_RETURN_CODE 77
  ENVIRONMENT "MESH_TEST_TMPDIR=${CMAKE_CURRENT_BINARY_DIR}/tmp")

# The federation run (fedmesh sim run, sim/fed.h): scenario files, traces,
# schedulers and bursting, compared with the sites alone.
add_test(NAME sim.run_small
  COMMAND ${MESH_SIM_SCRIPTS}/fed_run_test.sh $<TARGET_FILE:fedmesh> ${PROJECT_SOURCE_DIR})
add_test(NAME sim.run_determinism
  COMMAND ${MESH_SIM_SCRIPTS}/fed_determinism_test.sh $<TARGET_FILE:fedmesh> ${PROJECT_SOURCE_DIR})
add_test(NAME sim.run_scenario_errors
  COMMAND ${MESH_SIM_SCRIPTS}/fed_scenario_errors_test.sh $<TARGET_FILE:fedmesh> ${PROJECT_SOURCE_DIR})
add_test(NAME sim.run_ai_gpu
  COMMAND ${MESH_SIM_SCRIPTS}/fed_gpu_test.sh $<TARGET_FILE:fedmesh> ${PROJECT_SOURCE_DIR})
add_test(NAME sim.run_violation
  COMMAND ${MESH_SIM_SCRIPTS}/fed_violation_test.sh $<TARGET_FILE:fedmesh> ${PROJECT_SOURCE_DIR})
add_test(NAME sim.run_faults
  COMMAND ${MESH_SIM_SCRIPTS}/fed_faults_test.sh $<TARGET_FILE:fedmesh> ${PROJECT_SOURCE_DIR})
set_tests_properties(sim.run_small sim.run_determinism sim.run_scenario_errors sim.run_ai_gpu
  sim.run_violation sim.run_faults
  PROPERTIES TIMEOUT 300 LABELS sim)
