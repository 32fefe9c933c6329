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
set_tests_properties(sim.hostile sim.latency_table sim.determinism
  sim.gossip_seed1 sim.gossip_seed2 sim.gossip_seed3 sim.gossip_seed4 sim.gossip_seed5
  PROPERTIES TIMEOUT 120 LABELS sim)
