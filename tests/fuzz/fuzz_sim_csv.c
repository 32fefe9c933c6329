/*
 * tests/fuzz/fuzz_sim_csv.c: libFuzzer target for the CSV job-trace reader
 * (sim/trace.h), strict and lenient, under the oracle of fuzz_sim_trace.h:
 * the input as it is, and after a header naming every column, so that
 * mutations that break the header still reach the data lines.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_sim_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char csv_header[] = "id,submit_s,run_s,request_s,gpu,vcpu\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sim_trace_check(data, size, SIM_TRACE_CSV);
    size_t header_size = sizeof(csv_header) - 1;
    uint8_t *with_header = malloc(header_size + size + 1);
    if (with_header == NULL) {
        return 0;
    }
    memcpy(with_header, csv_header, header_size);
    if (size > 0) {
        memcpy(with_header + header_size, data, size);
    }
    fuzz_sim_trace_check(with_header, header_size + size, SIM_TRACE_CSV);
    free(with_header);
    return 0;
}
