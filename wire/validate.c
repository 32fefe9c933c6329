/*
 * wire/validate.c: the field rules of the wire format, in one place,
 * including how each message type is authenticated and which page of a
 * digest an id belongs to.
 *
 * Decoders call these on each field as they read it (so that a failure
 * has a precise offset); encoders call the whole-struct validators before
 * writing a byte. Both sides therefore apply the very same rules, which is
 * what makes "the encoder never emits what the decoder refuses" true by
 * construction rather than by care.
 *
 * Validators are predicates over (bytes, size): decoded strings are not
 * NUL-terminated, and struct strings are measured with a bounded length
 * first, so no validator ever reads past an array. None of them allocates
 * or depends on the locale.
 */
#include <string.h>

#include "wire/wire_int.h"

uint32_t wire_string_length(const char *text, uint32_t array_size)
{
    MESH_ASSERT(text != NULL);
    MESH_ASSERT(array_size > 0);
    uint32_t size = 0;
    while (size < array_size && text[size] != '\0') {
        size++;
    }
    return size;
}

static bool is_lower_or_digit(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool wire_name_valid(const uint8_t *text, uint32_t size)
{
    MESH_ASSERT(text != NULL || size == 0);
    if (size == 0 || size > WIRE_NAME_SIZE_MAX) {
        return false;
    }
    // A '-' may not start or end a name, so that names stay usable as DNS
    // labels and file names.
    if (text[0] == '-' || text[size - 1] == '-') {
        return false;
    }
    for (uint32_t i = 0; i < size; i++) {
        if (!is_lower_or_digit(text[i]) && text[i] != '-') {
            return false;
        }
    }
    return true;
}

bool wire_model_valid(const uint8_t *text, uint32_t size)
{
    MESH_ASSERT(text != NULL || size == 0);
    if (size == 0 || size > WIRE_MODEL_SIZE_MAX) {
        return false;
    }
    for (uint32_t i = 0; i < size; i++) {
        uint8_t c = text[i];
        bool ok =
            (c >= 'A' && c <= 'Z') || is_lower_or_digit(c) || c == '.' || c == '_' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

bool wire_endpoint_valid(const uint8_t *text, uint32_t size)
{
    MESH_ASSERT(text != NULL || size == 0);
    if (size == 0 || size > WIRE_ENDPOINT_SIZE_MAX) {
        return false;
    }
    for (uint32_t i = 0; i < size; i++) {
        if (text[i] < 0x21 || text[i] > 0x7e) {
            return false;
        }
    }
    return true;
}

// Decodes one UTF-8 sequence at text[0..size) strictly (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF). Returns its
// length, or 0 when it is not valid.
static uint32_t utf8_sequence(const uint8_t *text, uint32_t size, uint32_t *code_point_out)
{
    MESH_ASSERT(size >= 1);
    uint8_t first = text[0];
    uint32_t length;
    uint32_t code_point;
    uint32_t minimum;
    if (first < 0x80) {
        *code_point_out = first;
        return 1;
    }
    if (first >= 0xc2 && first <= 0xdf) {
        length = 2;
        code_point = first & 0x1fu;
        minimum = 0x80;
    } else if (first >= 0xe0 && first <= 0xef) {
        length = 3;
        code_point = first & 0x0fu;
        minimum = 0x800;
    } else if (first >= 0xf0 && first <= 0xf4) {
        length = 4;
        code_point = first & 0x07u;
        minimum = 0x10000;
    } else {
        return 0; // a continuation byte, 0xc0/0xc1 (always overlong), or 0xf5..0xff
    }
    if (length > size) {
        return 0;
    }
    for (uint32_t i = 1; i < length; i++) {
        if ((text[i] & 0xc0u) != 0x80u) {
            return 0;
        }
        code_point = (code_point << 6) | (text[i] & 0x3fu);
    }
    if (code_point < minimum || code_point > 0x10ffffu) {
        return 0;
    }
    if (code_point >= 0xd800u && code_point <= 0xdfffu) {
        return 0;
    }
    *code_point_out = code_point;
    return length;
}

bool wire_text_valid(const uint8_t *text, uint32_t size)
{
    MESH_ASSERT(text != NULL || size == 0);
    uint32_t offset = 0;
    while (offset < size) {
        uint32_t code_point = 0;
        uint32_t length = utf8_sequence(text + offset, size - offset, &code_point);
        if (length == 0) {
            return false;
        }
        // Control characters would let an operator name rewrite a log line
        // or a terminal: C0, DEL and C1 are all refused.
        if (code_point < 0x20u || (code_point >= 0x7fu && code_point <= 0x9fu)) {
            return false;
        }
        MESH_ASSERT(length <= size - offset);
        offset += length;
    }
    return true;
}

bool wire_resource_valid(const wire_resource *resource)
{
    MESH_ASSERT(resource != NULL);
    if (resource->resource_class < WIRE_RESOURCE_VCPU ||
        resource->resource_class > WIRE_RESOURCE_CLASS_MAX) {
        return false;
    }
    uint32_t model_size = wire_string_length(resource->model, sizeof(resource->model));
    if (model_size == sizeof(resource->model)) {
        return false; // no terminating NUL
    }
    // A GPU is meaningless without its model; a vCPU, a GiB of memory or of
    // storage is fungible, so a model there would only split equal offers.
    if (resource->resource_class == WIRE_RESOURCE_GPU) {
        if (!wire_model_valid((const uint8_t *) resource->model, model_size)) {
            return false;
        }
    } else if (model_size != 0) {
        return false;
    }
    if (resource->total > WIRE_AMOUNT_MAX) {
        return false;
    }
    if (resource->free > resource->total || resource->lendable > resource->total) {
        return false;
    }
    return resource->price_microeur_per_unit_hour <= WIRE_PRICE_MAX;
}

int wire_resource_compare(const wire_resource *a, const wire_resource *b)
{
    MESH_ASSERT(a != NULL);
    MESH_ASSERT(b != NULL);
    if (a->resource_class != b->resource_class) {
        return a->resource_class < b->resource_class ? -1 : 1;
    }
    // Bounded: models are NUL-terminated within their arrays once valid,
    // and memcmp over the arrays up to the first NUL orders like strcmp.
    uint32_t a_size = wire_string_length(a->model, sizeof(a->model));
    uint32_t b_size = wire_string_length(b->model, sizeof(b->model));
    uint32_t common = a_size < b_size ? a_size : b_size;
    int order = memcmp(a->model, b->model, common);
    if (order != 0) {
        return order < 0 ? -1 : 1;
    }
    if (a_size != b_size) {
        return a_size < b_size ? -1 : 1;
    }
    return 0;
}

bool wire_type_is_mac(wire_type type)
{
    // Through uint32_t: a wire_type may hold any number a caller cast in.
    uint32_t number = (uint32_t) type;
    return number >= WIRE_TYPE_PING && number <= WIRE_TYPE_PUSH;
}

uint32_t wire_type_auth_size(wire_type type)
{
    uint32_t number = (uint32_t) type;
    // Known types only: the reserved ranges get their size when they get
    // their meaning, so that an old node refuses them as unknown.
    if (number >= WIRE_TYPE_ADVERT && number <= WIRE_TYPE_SUSPECT) {
        return WIRE_SIGNATURE_SIZE;
    }
    // Lease messages and the ledger summary are signed by their sender
    // (22..31 stay unknown).
    if (number >= WIRE_TYPE_LEASE_REQUEST && number <= WIRE_TYPE_LEDGER_SUMMARY) {
        return WIRE_SIGNATURE_SIZE;
    }
    if (wire_type_is_mac(type)) {
        return WIRE_MAC_SIZE;
    }
    return 0;
}

bool wire_envelope_valid(const wire_envelope *envelope)
{
    MESH_ASSERT(envelope != NULL);
    if (envelope->version != WIRE_VERSION) {
        return false;
    }
    if (wire_type_auth_size(envelope->type) == 0) {
        return false;
    }
    if (envelope->body == NULL) {
        return false;
    }
    return envelope->body_size >= 1 && envelope->body_size <= WIRE_BODY_SIZE_MAX;
}

static bool api_endpoint_valid(const char *text, uint32_t array_size)
{
    uint32_t size = wire_string_length(text, array_size);
    if (size == array_size) {
        return false;
    }
    return size == 0 || wire_endpoint_valid((const uint8_t *) text, size);
}

bool wire_advert_valid(const wire_advert *advert)
{
    MESH_ASSERT(advert != NULL);
    if (advert->sequence < 1 || advert->timestamp_ns <= 0) {
        return false;
    }
    if (advert->status > WIRE_ADVERT_LEAVING || advert->carbon_gco2_per_kwh > WIRE_CARBON_MAX) {
        return false;
    }
    if (advert->resource_count > WIRE_RESOURCES_MAX) {
        return false;
    }
    for (uint32_t i = 0; i < advert->resource_count; i++) {
        if (!wire_resource_valid(&advert->resources[i])) {
            return false;
        }
        // A set: strictly ascending, which also rules out duplicates.
        if (i > 0 && wire_resource_compare(&advert->resources[i - 1], &advert->resources[i]) >= 0) {
            return false;
        }
    }
    uint32_t endpoint_size = wire_string_length(advert->endpoint, sizeof(advert->endpoint));
    if (endpoint_size == sizeof(advert->endpoint) ||
        !wire_endpoint_valid((const uint8_t *) advert->endpoint, endpoint_size)) {
        return false;
    }
    return api_endpoint_valid(advert->api_endpoint, sizeof(advert->api_endpoint));
}

static bool text_field_valid(const char *text, uint32_t array_size)
{
    uint32_t size = wire_string_length(text, array_size);
    return size < array_size && wire_text_valid((const uint8_t *) text, size);
}

bool wire_cert_valid(const wire_cert *cert)
{
    MESH_ASSERT(cert != NULL);
    uint32_t name_size = wire_string_length(cert->name, sizeof(cert->name));
    if (name_size == sizeof(cert->name) ||
        !wire_name_valid((const uint8_t *) cert->name, name_size)) {
        return false;
    }
    if (!text_field_valid(cert->operator_name, sizeof(cert->operator_name))) {
        return false;
    }
    uint32_t country_size = wire_string_length(cert->country, sizeof(cert->country));
    if (!wire_country_bytes_valid((const uint8_t *) cert->country, country_size)) {
        return false;
    }
    if (cert->jurisdiction_count > WIRE_JURISDICTIONS_MAX) {
        return false;
    }
    for (uint32_t i = 0; i < cert->jurisdiction_count; i++) {
        const char *code = cert->jurisdictions[i];
        uint32_t size = wire_string_length(code, sizeof(cert->jurisdictions[i]));
        if (!wire_jurisdiction_valid((const uint8_t *) code, size)) {
            return false;
        }
        if (i > 0 && memcmp(cert->jurisdictions[i - 1], code, 2) >= 0) {
            return false;
        }
    }
    if ((cert->certifications & ~WIRE_CERTIFICATION_ALL) != 0) {
        return false;
    }
    return cert->valid_from_ns < cert->valid_until_ns;
}

bool wire_revocation_valid(const wire_revocation *revocation)
{
    MESH_ASSERT(revocation != NULL);
    if (revocation->revoked_at_ns <= 0) {
        return false;
    }
    return text_field_valid(revocation->reason, sizeof(revocation->reason));
}

bool wire_suspect_valid(const wire_suspect *suspect)
{
    MESH_ASSERT(suspect != NULL);
    return suspect->target_sequence >= 1 && suspect->at_ns > 0;
}

uint32_t wire_digest_page_of(const mesh_node_id *id, uint32_t page_count)
{
    MESH_ASSERT(id != NULL);
    MESH_ASSERT(page_count >= 1 && page_count <= WIRE_DIGEST_PAGES_MAX);
    // Page p starts at floor(p * 65536 / page_count), as wire.h writes it
    // in integer arithmetic. The page of a prefix is the largest p whose
    // start is <= prefix: p * 65536 / page_count < prefix + 1, that is
    // p = ((prefix + 1) * page_count - 1) / 65536. For a power-of-two
    // page_count this is simply the top bits of the prefix.
    uint32_t prefix = ((uint32_t) id->bytes[0] << 8) | id->bytes[1];
    uint32_t page = ((prefix + 1u) * page_count - 1u) / 65536u;
    MESH_ASSERT(page < page_count);
    MESH_ASSERT(page * 65536u / page_count <= prefix);
    return page;
}

bool wire_digest_page_valid(uint32_t page, uint32_t page_count)
{
    if (page_count < 1 || page_count > WIRE_DIGEST_PAGES_MAX) {
        return false;
    }
    return page < page_count;
}

bool wire_digest_entry_valid(const wire_digest_entry *entry, uint32_t page, uint32_t page_count)
{
    MESH_ASSERT(entry != NULL);
    MESH_ASSERT(wire_digest_page_valid(page, page_count));
    if (entry->sequence < 1) {
        return false;
    }
    return wire_digest_page_of(&entry->id, page_count) == page;
}

bool wire_digest_valid(const wire_digest *digest)
{
    MESH_ASSERT(digest != NULL);
    if (!wire_digest_page_valid(digest->page, digest->page_count) || digest->reply > 1) {
        return false;
    }
    if (digest->entry_count > WIRE_DIGEST_ENTRIES_MAX) {
        return false;
    }
    for (uint32_t i = 0; i < digest->entry_count; i++) {
        const wire_digest_entry *entry = &digest->entries[i];
        if (!wire_digest_entry_valid(entry, digest->page, digest->page_count)) {
            return false;
        }
        // A map from id to sequence: strictly ascending ids, no duplicates.
        if (i > 0 && mesh_node_id_compare(&digest->entries[i - 1].id, &entry->id) >= 0) {
            return false;
        }
    }
    return true;
}

bool wire_pull_valid(const wire_pull *pull)
{
    MESH_ASSERT(pull != NULL);
    if (pull->id_count < 1 || pull->id_count > WIRE_PULL_IDS_MAX) {
        return false;
    }
    for (uint32_t i = 1; i < pull->id_count; i++) {
        if (mesh_node_id_compare(&pull->ids[i - 1], &pull->ids[i]) >= 0) {
            return false;
        }
    }
    return true;
}

bool wire_record_valid(const wire_record *record)
{
    MESH_ASSERT(record != NULL);
    if (record->frame == NULL) {
        return false;
    }
    return record->frame_size >= 1 && record->frame_size <= WIRE_RECORD_SIZE_MAX;
}

bool wire_push_valid(const wire_push *push)
{
    MESH_ASSERT(push != NULL);
    if (push->record_count < 1 || push->record_count > WIRE_PUSH_RECORDS_MAX) {
        return false;
    }
    // No order rule: a push is a batch in the sender's order (wire.h).
    for (uint32_t i = 0; i < push->record_count; i++) {
        if (!wire_record_valid(&push->records[i])) {
            return false;
        }
    }
    return true;
}
