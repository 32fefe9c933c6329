/*
 * tests/fuzz/fuzz_sim_swf.c: libFuzzer target for the SWF job-trace reader
 * (sim/trace.h), strict and lenient, under the oracle of fuzz_sim_trace.h.
 */
#include <stddef.h>
#include <stdint.h>

#include "tests/fuzz/fuzz_sim_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sim_trace_check(data, size, SIM_TRACE_SWF);
    return 0;
}
