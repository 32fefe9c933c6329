/*
 * sim/cert.c: what the simulator's fabricated federations share when they
 * write members' certificates (sim_int.h).
 */
#include <string.h>

#include "sim/sim_int.h"

void sim_cert_add_jurisdiction(wire_cert *cert, const char *code)
{
    MESH_ASSERT(cert != NULL && code != NULL && strlen(code) == 2);
    MESH_ASSERT(cert->jurisdiction_count < WIRE_JURISDICTIONS_MAX);
    uint32_t at = cert->jurisdiction_count;
    while (at > 0 && strcmp(cert->jurisdictions[at - 1], code) > 0) {
        memcpy(cert->jurisdictions[at], cert->jurisdictions[at - 1], 3);
        at--;
    }
    memcpy(cert->jurisdictions[at], code, 3);
    cert->jurisdiction_count++;
}
