/*
 * sim/heap.c: the simulator's event queue, a 4-ary min-heap ordered by
 * (time_ns, sequence).
 *
 * Why a heap: the queue holds every in-flight message and one timer per
 * node, tens of thousands of events for a thousand nodes; push and pop are
 * O(log n) and the storage is one array. The sequence number, an insertion
 * counter, breaks ties, so events at the same nanosecond leave in the order
 * they entered and a run never depends on how the heap happens to be laid
 * out.
 *
 * Bounds: at most count_max events; the array grows by doubling up to it.
 * This is the simulator, not a core state machine, so it may allocate; it
 * still refuses to grow without bound.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/sim_int.h"

#define HEAP_CAPACITY_INITIAL 1024u
/* A 4-ary heap: half the levels of a binary one, and the four children of
 * a node share a cache line or two. (time, sequence) is a total order, so
 * the pop order is the same whatever the arity. */
#define HEAP_ARITY            4u

static bool event_before(const sim_event *a, const sim_event *b)
{
    if (a->time_ns != b->time_ns) {
        return a->time_ns < b->time_ns;
    }
    return a->sequence < b->sequence;
}

void sim_heap_init(sim_heap *heap, uint32_t count_max)
{
    MESH_ASSERT(heap != NULL);
    MESH_ASSERT(count_max > 0);
    memset(heap, 0, sizeof(*heap));
    heap->count_max = count_max;
}

void sim_heap_fini(sim_heap *heap)
{
    if (heap == NULL) {
        return;
    }
    for (uint32_t i = 0; i < heap->count; i++) {
        free(heap->events[i].payload);
    }
    free(heap->events);
    memset(heap, 0, sizeof(*heap));
}

static mesh_err heap_grow(sim_heap *heap)
{
    MESH_ASSERT(heap->count == heap->capacity);
    if (heap->capacity >= heap->count_max) {
        return MESH_EFULL;
    }
    uint64_t wanted = heap->capacity == 0 ? HEAP_CAPACITY_INITIAL : 2ull * heap->capacity;
    uint32_t capacity = wanted > heap->count_max ? heap->count_max : (uint32_t) wanted;
    sim_event *events = realloc(heap->events, (size_t) capacity * sizeof(sim_event));
    if (events == NULL) {
        return MESH_ENOMEM;
    }
    heap->events = events;
    heap->capacity = capacity;
    return MESH_OK;
}

mesh_err sim_heap_push(sim_heap *heap, const sim_event *event)
{
    MESH_ASSERT(heap != NULL && event != NULL);
    MESH_ASSERT(heap->count <= heap->capacity);
    if (heap->count == heap->capacity) {
        mesh_err err = heap_grow(heap);
        if (err != MESH_OK) {
            return err;
        }
    }
    uint32_t at = heap->count;
    heap->count++;
    sim_event entry = *event;
    entry.sequence = heap->sequence_next;
    heap->sequence_next++;
    // Sift up: move parents down until entry's place is found.
    while (at > 0) {
        uint32_t parent = (at - 1) / HEAP_ARITY;
        if (!event_before(&entry, &heap->events[parent])) {
            break;
        }
        heap->events[at] = heap->events[parent];
        at = parent;
    }
    heap->events[at] = entry;
    return MESH_OK;
}

const sim_event *sim_heap_peek(const sim_heap *heap)
{
    MESH_ASSERT(heap != NULL);
    return heap->count == 0 ? NULL : &heap->events[0];
}

bool sim_heap_pop(sim_heap *heap, sim_event *event_out)
{
    MESH_ASSERT(heap != NULL && event_out != NULL);
    if (heap->count == 0) {
        return false;
    }
    *event_out = heap->events[0];
    heap->count--;
    if (heap->count == 0) {
        return true;
    }
    // Sift the last entry down from the root.
    sim_event last = heap->events[heap->count];
    uint32_t at = 0;
    for (;;) {
        uint64_t first = (uint64_t) HEAP_ARITY * at + 1;
        if (first >= heap->count) {
            break;
        }
        uint32_t child = (uint32_t) first;
        uint64_t end = first + HEAP_ARITY < heap->count ? first + HEAP_ARITY : heap->count;
        for (uint32_t other = child + 1; other < end; other++) {
            if (event_before(&heap->events[other], &heap->events[child])) {
                child = other;
            }
        }
        if (!event_before(&heap->events[child], &last)) {
            break;
        }
        heap->events[at] = heap->events[child];
        at = child;
    }
    MESH_ASSERT(at < heap->count);
    heap->events[at] = last;
    return true;
}
