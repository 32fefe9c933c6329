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

/* Grid carbon intensity, gCO2/kWh: Ember's 2024 yearly country averages,
 * transcribed (rounded) from ../shared/data/carbon-ember-yearly-average-
 * intensities.json (co2.js; CC BY-SA 4.0); see data/PROVENANCE.md. */
static const struct {
    char country[3];
    uint32_t carbon_gco2_per_kwh;
} carbon_table[] = {
    {"AT", 103}, {"BE", 118}, {"DE", 342}, {"ES", 146}, {"FR", 44},
    {"IE", 280}, {"IT", 288}, {"NL", 253}, {"PL", 615}, {"SE", 36},
};

uint32_t sim_carbon_of(const char *country)
{
    for (uint32_t i = 0; i < MESH_ARRAY_COUNT(carbon_table); i++) {
        if (strcmp(carbon_table[i].country, country) == 0) {
            return carbon_table[i].carbon_gco2_per_kwh;
        }
    }
    MESH_ASSERT(false && "every city's country has a carbon figure");
    return 0;
}
