/*
 * gossip/order.c: the member index in ascending id order, as a sequence
 * of blocks (an unrolled list with a directory), so that a join does not
 * cost O(N) per new member.
 *
 * Why: the machine iterates its members in id order (digest pages,
 * probes, sweeps: a run is a pure function of its inputs) and picks
 * members by position (a uniform random member). A flat sorted array of
 * slot numbers does both in O(1), but every insert moves half of it: a
 * node joining a federation of N members inserts N of them, O(N^2) bytes
 * moved per node and O(N^3) for a simulated federation, and its binary
 * search reads log2(N) member records at random, a cache miss each. Here
 * an insert moves at most one block (ORDER_BLOCK_MAX slot numbers) and the
 * directory's prefix counts, and a search reads the directory's first keys
 * (together in one array) and then log2(ORDER_BLOCK_MAX) member records.
 *
 * Layout: block_max physical blocks of ORDER_BLOCK_MAX slot numbers each.
 * The directory lists the blocks in use in id order, with each block's
 * entry count, the position of its first entry (a prefix sum, kept exact
 * on every insert and remove), and its first key: the big-endian first 8
 * bytes of that member's id (ties, between ids that share 8 bytes, are
 * broken by the whole id in the member record). Memory: 4 bytes per
 * member slot times 4/3, plus 28 bytes per block, against the flat
 * array's 4 bytes per slot.
 *
 * Bounds: a full block splits into two halves, taking a free block. When
 * none is free, a compaction (in place, O(N)) refills every block to
 * ORDER_BLOCK_FILL entries: ceil(N / ORDER_BLOCK_FILL) blocks, which
 * block_max = members_max / ORDER_BLOCK_FILL + 2 always holds, and every
 * block then takes ORDER_BLOCK_MAX - ORDER_BLOCK_FILL more inserts before
 * it splits. An empty block is freed. Splits leave blocks at least half
 * full, so compactions come when the blocks average under 3/4 full (near
 * members_max, or after removals), each after at least
 * ORDER_BLOCK_MAX - ORDER_BLOCK_FILL inserts, and in a random join only
 * every few thousand. Nothing allocates after create.
 *
 * Invariants (gossip_order_check, for tests): counts sum to the member
 * count, starts are their prefix sums, no block in the directory is empty,
 * first keys are those of the blocks' first members, and ids ascend.
 */
#include <stdlib.h>
#include <string.h>

#include "gossip/gossip_int.h"

static uint64_t id_key(const mesh_node_id *id)
{
    uint64_t key = 0;
    for (uint32_t i = 0; i < 8; i++) {
        key = key << 8 | id->bytes[i];
    }
    return key;
}

static uint32_t *block_slots(const gossip_order *order, uint32_t physical)
{
    return &order->slots[(size_t) physical * ORDER_BLOCK_MAX];
}

mesh_err gossip_order_init(gossip_order *order, uint32_t members_max)
{
    MESH_ASSERT(order != NULL && members_max > 0);
    memset(order, 0, sizeof(*order));
    order->block_max = members_max / ORDER_BLOCK_FILL + 2u;
    order->directory = calloc(order->block_max, sizeof(uint32_t));
    order->counts = calloc(order->block_max, sizeof(uint32_t));
    order->starts = calloc(order->block_max, sizeof(uint32_t));
    order->firsts = calloc(order->block_max, sizeof(uint64_t));
    order->free_blocks = calloc(order->block_max, sizeof(uint32_t));
    order->slots = calloc((size_t) order->block_max * ORDER_BLOCK_MAX, sizeof(uint32_t));
    if (order->directory == NULL || order->counts == NULL || order->starts == NULL ||
        order->firsts == NULL || order->free_blocks == NULL || order->slots == NULL) {
        gossip_order_fini(order);
        return MESH_ENOMEM;
    }
    for (uint32_t i = 0; i < order->block_max; i++) {
        order->free_blocks[i] = order->block_max - 1u - i;
    }
    order->free_count = order->block_max;
    return MESH_OK;
}

void gossip_order_fini(gossip_order *order)
{
    if (order == NULL) {
        return;
    }
    free(order->directory);
    free(order->counts);
    free(order->starts);
    free(order->firsts);
    free(order->free_blocks);
    free(order->slots);
    memset(order, 0, sizeof(*order));
}

/* The directory index of the block holding position (< count). */
static uint32_t block_of_position(const gossip_order *order, uint32_t position)
{
    MESH_ASSERT(position < order->count);
    uint32_t low = 0;
    uint32_t high = order->block_count;
    // The last block whose start is <= position.
    while (high - low > 1) {
        uint32_t mid = low + (high - low) / 2;
        if (order->starts[mid] <= position) {
            low = mid;
        } else {
            high = mid;
        }
    }
    MESH_ASSERT(position - order->starts[low] < order->counts[low]);
    return low;
}

uint32_t gossip_order_slot_at(const gossip *g, uint32_t position)
{
    const gossip_order *order = &g->order;
    uint32_t block = block_of_position(order, position);
    return block_slots(order, order->directory[block])[position - order->starts[block]];
}

/* True when the entry (key, slot) sorts before id (whose key is key_id). */
static bool
entry_before(const gossip *g, uint64_t key, uint32_t slot, uint64_t key_id, const mesh_node_id *id)
{
    if (key != key_id) {
        return key < key_id;
    }
    return mesh_node_id_compare(&g->members[slot].id, id) < 0;
}

/* The first entry not before id: its block and offset there. A position
 * past every entry is (block_count - 1, counts[last]), or (0, 0) when the
 * index is empty. */
static void
lower_bound(const gossip *g, const mesh_node_id *id, uint32_t *block_out, uint32_t *offset_out)
{
    const gossip_order *order = &g->order;
    uint64_t key_id = id_key(id);
    if (order->block_count == 0) {
        *block_out = 0;
        *offset_out = 0;
        return;
    }
    // The last block whose first entry is before id; block 0 if none.
    uint32_t low = 0;
    uint32_t high = order->block_count;
    while (high - low > 1) {
        uint32_t mid = low + (high - low) / 2;
        if (order->firsts[mid] < key_id ||
            (order->firsts[mid] == key_id &&
             entry_before(g, key_id, block_slots(order, order->directory[mid])[0], key_id, id))) {
            low = mid;
        } else {
            high = mid;
        }
    }
    const uint32_t *slots = block_slots(order, order->directory[low]);
    uint32_t first = 0;
    uint32_t last = order->counts[low];
    while (first < last) {
        uint32_t mid = first + (last - first) / 2;
        if (mesh_node_id_compare(&g->members[slots[mid]].id, id) < 0) {
            first = mid + 1;
        } else {
            last = mid;
        }
    }
    *block_out = low;
    *offset_out = first;
}

uint32_t gossip_order_lower_bound(const gossip *g, const mesh_node_id *id)
{
    uint32_t block = 0;
    uint32_t offset = 0;
    lower_bound(g, id, &block, &offset);
    return g->order.block_count == 0 ? 0 : g->order.starts[block] + offset;
}

/* Refills every block to ORDER_BLOCK_FILL entries, in place, in two
 * passes. The first packs the entries full, front to back: entry k moves
 * to block k / ORDER_BLOCK_MAX, never past where it was, so it is read
 * before its place is written. The second spreads them back to front:
 * entry k moves to block k / ORDER_BLOCK_FILL, never before where it is,
 * taking free blocks for the directory's new tail. */
static void compact(const gossip *g, gossip_order *order)
{
    uint32_t used = order->block_count;
    uint32_t write_block = 0;
    uint32_t write_offset = 0;
    for (uint32_t read_block = 0; read_block < used; read_block++) {
        const uint32_t *source = block_slots(order, order->directory[read_block]);
        uint32_t count = order->counts[read_block];
        for (uint32_t i = 0; i < count; i++) {
            if (write_offset == ORDER_BLOCK_MAX) {
                write_block++;
                write_offset = 0;
            }
            MESH_ASSERT(write_block <= read_block);
            block_slots(order, order->directory[write_block])[write_offset++] = source[i];
        }
    }
    uint32_t packed = order->count == 0 ? 0 : write_block + 1;
    for (uint32_t i = packed; i < used; i++) {
        order->free_blocks[order->free_count++] = order->directory[i];
    }
    uint32_t spread = (order->count + ORDER_BLOCK_FILL - 1) / ORDER_BLOCK_FILL;
    MESH_ASSERT(spread <= order->block_max);
    for (uint32_t i = packed; i < spread; i++) {
        MESH_ASSERT(order->free_count > 0);
        order->directory[i] = order->free_blocks[--order->free_count];
    }
    for (uint32_t k = order->count; k-- > 0;) {
        uint32_t slot =
            block_slots(order, order->directory[k / ORDER_BLOCK_MAX])[k % ORDER_BLOCK_MAX];
        block_slots(order, order->directory[k / ORDER_BLOCK_FILL])[k % ORDER_BLOCK_FILL] = slot;
    }
    order->block_count = spread;
    for (uint32_t i = 0; i < spread; i++) {
        order->counts[i] = i + 1 < spread ? ORDER_BLOCK_FILL : order->count - i * ORDER_BLOCK_FILL;
        order->starts[i] = i * ORDER_BLOCK_FILL;
        order->firsts[i] = id_key(&g->members[block_slots(order, order->directory[i])[0]].id);
    }
    order->compactions++;
}

/* Splits the full block at directory index `block` into two halves. */
static void split(const gossip *g, gossip_order *order, uint32_t block)
{
    MESH_ASSERT(order->counts[block] == ORDER_BLOCK_MAX && order->free_count > 0);
    MESH_ASSERT(order->block_count < order->block_max);
    uint32_t fresh = order->free_blocks[--order->free_count];
    uint32_t source = order->directory[block];
    uint32_t half = ORDER_BLOCK_MAX / 2u;
    memcpy(block_slots(order, fresh), block_slots(order, source) + half, half * sizeof(uint32_t));
    uint32_t after = order->block_count - block - 1u;
    memmove(&order->directory[block + 2], &order->directory[block + 1], after * sizeof(uint32_t));
    memmove(&order->counts[block + 2], &order->counts[block + 1], after * sizeof(uint32_t));
    memmove(&order->starts[block + 2], &order->starts[block + 1], after * sizeof(uint32_t));
    memmove(&order->firsts[block + 2], &order->firsts[block + 1], after * sizeof(uint64_t));
    order->directory[block + 1] = fresh;
    order->firsts[block + 1] = id_key(&g->members[block_slots(order, fresh)[0]].id);
    order->counts[block] = half;
    order->counts[block + 1] = ORDER_BLOCK_MAX - half;
    order->starts[block + 1] = order->starts[block] + half;
    order->block_count++;
}

void gossip_order_insert(gossip *g, uint32_t slot)
{
    gossip_order *order = &g->order;
    const mesh_node_id *id = &g->members[slot].id;
    MESH_ASSERT(order->count < g->config.members_max);
    if (order->block_count == 0) {
        MESH_ASSERT(order->free_count > 0);
        order->directory[0] = order->free_blocks[--order->free_count];
        order->counts[0] = 0;
        order->starts[0] = 0;
        order->block_count = 1;
    }
    uint32_t block = 0;
    uint32_t offset = 0;
    lower_bound(g, id, &block, &offset);
    if (order->counts[block] == ORDER_BLOCK_MAX) {
        if (order->free_count == 0) {
            compact(g, order);
            MESH_ASSERT(order->free_count > 0);
        }
        // The blocks moved, or are about to: find the place again.
        lower_bound(g, id, &block, &offset);
        if (order->counts[block] == ORDER_BLOCK_MAX) {
            split(g, order, block);
            if (offset > ORDER_BLOCK_MAX / 2u) {
                offset -= ORDER_BLOCK_MAX / 2u;
                block++;
            }
        }
    }
    uint32_t *slots = block_slots(order, order->directory[block]);
    uint32_t tail = order->counts[block] - offset;
    memmove(&slots[offset + 1], &slots[offset], tail * sizeof(uint32_t));
    slots[offset] = slot;
    if (offset == 0) {
        order->firsts[block] = id_key(id);
    }
    order->counts[block]++;
    for (uint32_t i = block + 1; i < order->block_count; i++) {
        order->starts[i]++;
    }
    order->count++;
}

void gossip_order_remove(gossip *g, uint32_t slot)
{
    gossip_order *order = &g->order;
    uint32_t block = 0;
    uint32_t offset = 0;
    lower_bound(g, &g->members[slot].id, &block, &offset);
    MESH_ASSERT(order->block_count > 0);
    if (offset == order->counts[block]) {
        // The member opens the next block.
        block++;
        offset = 0;
    }
    MESH_ASSERT(block < order->block_count && offset < order->counts[block]);
    uint32_t physical = order->directory[block];
    uint32_t *slots = block_slots(order, physical);
    MESH_ASSERT(slots[offset] == slot);
    uint32_t tail = order->counts[block] - offset - 1u;
    memmove(&slots[offset], &slots[offset + 1], tail * sizeof(uint32_t));
    order->counts[block]--;
    if (offset == 0 && order->counts[block] > 0) {
        order->firsts[block] = id_key(&g->members[slots[0]].id);
    }
    for (uint32_t i = block + 1; i < order->block_count; i++) {
        order->starts[i]--;
    }
    order->count--;
    if (order->counts[block] == 0) {
        order->free_blocks[order->free_count++] = physical;
        uint32_t after = order->block_count - block - 1u;
        memmove(&order->directory[block], &order->directory[block + 1], after * sizeof(uint32_t));
        memmove(&order->counts[block], &order->counts[block + 1], after * sizeof(uint32_t));
        memmove(&order->starts[block], &order->starts[block + 1], after * sizeof(uint32_t));
        memmove(&order->firsts[block], &order->firsts[block + 1], after * sizeof(uint64_t));
        order->block_count--;
    }
}

void gossip_order_seek(const gossip *g, uint32_t position, gossip_order_iter *iter_out)
{
    const gossip_order *order = &g->order;
    iter_out->position = position;
    if (position >= order->count) {
        iter_out->block = order->block_count;
        iter_out->offset = 0;
        return;
    }
    iter_out->block = block_of_position(order, position);
    iter_out->offset = position - order->starts[iter_out->block];
}

bool gossip_order_next(const gossip *g, gossip_order_iter *iter, uint32_t *slot_out)
{
    const gossip_order *order = &g->order;
    if (iter->block >= order->block_count) {
        return false;
    }
    MESH_ASSERT(iter->offset < order->counts[iter->block]);
    *slot_out = block_slots(order, order->directory[iter->block])[iter->offset];
    iter->position++;
    iter->offset++;
    if (iter->offset == order->counts[iter->block]) {
        iter->block++;
        iter->offset = 0;
    }
    return true;
}

uint32_t gossip_order_slot_follow(const gossip *g, gossip_order_iter *iter, uint32_t position)
{
    const gossip_order *order = &g->order;
    MESH_ASSERT(position < order->count);
    if (position == iter->position + 1u && iter->block < order->block_count) {
        iter->position++;
        iter->offset++;
        if (iter->offset == order->counts[iter->block]) {
            iter->block++;
            iter->offset = 0;
        }
    } else if (position != iter->position || iter->block >= order->block_count) {
        gossip_order_seek(g, position, iter);
    }
    MESH_ASSERT(iter->block < order->block_count && iter->offset < order->counts[iter->block]);
    MESH_ASSERT(order->starts[iter->block] + iter->offset == position);
    return block_slots(order, order->directory[iter->block])[iter->offset];
}

void gossip_order_check(const gossip *g)
{
    const gossip_order *order = &g->order;
    uint32_t total = 0;
    const member *previous = NULL;
    MESH_ASSERT(order->block_count + order->free_count == order->block_max);
    for (uint32_t b = 0; b < order->block_count; b++) {
        MESH_ASSERT(order->counts[b] > 0 && order->counts[b] <= ORDER_BLOCK_MAX);
        MESH_ASSERT(order->starts[b] == total);
        const uint32_t *slots = block_slots(order, order->directory[b]);
        MESH_ASSERT(order->firsts[b] == id_key(&g->members[slots[0]].id));
        for (uint32_t i = 0; i < order->counts[b]; i++) {
            const member *m = &g->members[slots[i]];
            MESH_ASSERT(previous == NULL || mesh_node_id_compare(&previous->id, &m->id) < 0);
            previous = m;
        }
        total += order->counts[b];
    }
    MESH_ASSERT(total == order->count);
}
