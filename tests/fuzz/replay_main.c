/*
 * tests/fuzz/replay_main.c: runs a libFuzzer target over its corpus as a
 * plain program, so that every build (gcc, sanitizers, valgrind) replays
 * every input the fuzzer ever found interesting. Arguments are files or
 * directories; directories are read one level deep, in sorted order.
 * Exits non-zero when no input was replayed, so that an empty or missing
 * corpus is loud, and when any input cannot be replayed whole: a file
 * that cannot be opened or read (a dangling link, a directory inside the
 * corpus, no permission), or one larger than REPLAY_INPUT_SIZE_MAX. A
 * skipped input would be a test that silently stopped testing it
 * (tests/fuzz/replay_negative.sh proves the refusal).
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_INPUT_SIZE_MAX (1u << 20)
#define REPLAY_FILES_MAX      100000u

static int replay_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        (void) fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    // One byte more than the bound tells an input of exactly the bound
    // from a larger one.
    uint8_t *data = malloc(REPLAY_INPUT_SIZE_MAX + 1u);
    if (data == NULL) {
        (void) fclose(file);
        (void) fprintf(stderr, "replay: out of memory for %s\n", path);
        return -1;
    }
    size_t size = fread(data, 1, REPLAY_INPUT_SIZE_MAX + 1u, file);
    int read_errno = ferror(file) ? errno : 0;
    bool read_failed = ferror(file) != 0;
    (void) fclose(file);
    if (read_failed || size > REPLAY_INPUT_SIZE_MAX) {
        if (read_failed) {
            (void) fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(read_errno));
        } else {
            (void) fprintf(stderr, "replay: %s is larger than %u bytes\n", path,
                           REPLAY_INPUT_SIZE_MAX);
        }
        free(data);
        return -1;
    }
    // A copy of exactly size bytes, so that ASan and valgrind catch any
    // read past the end of the input.
    uint8_t *exact = malloc(size > 0 ? size : 1);
    if (exact == NULL) {
        free(data);
        (void) fprintf(stderr, "replay: out of memory for %s\n", path);
        return -1;
    }
    memcpy(exact, data, size);
    free(data);
    (void) LLVMFuzzerTestOneInput(exact, size);
    free(exact);
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static long replay_directory(const char *path)
{
    DIR *dir = opendir(path);
    if (dir == NULL) {
        (void) fprintf(stderr, "replay: cannot open directory %s\n", path);
        return -1;
    }
    char **names = calloc(REPLAY_FILES_MAX, sizeof(char *));
    if (names == NULL) {
        (void) closedir(dir);
        return -1;
    }
    uint32_t count = 0;
    bool failed = false;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] == '.') {
            continue;
        }
        if (count == REPLAY_FILES_MAX) {
            (void) fprintf(stderr, "replay: %s holds more than %u inputs\n", path,
                           REPLAY_FILES_MAX);
            failed = true;
            break;
        }
        names[count] = strdup(entry->d_name);
        if (names[count] == NULL) {
            (void) fprintf(stderr, "replay: out of memory listing %s\n", path);
            failed = true;
            break;
        }
        count++;
    }
    (void) closedir(dir);
    qsort(names, count, sizeof(char *), compare_names);
    long replayed = 0;
    for (uint32_t i = 0; i < count; i++) {
        char full[4096];
        int n = snprintf(full, sizeof(full), "%s/%s", path, names[i]);
        if (n <= 0 || (size_t) n >= sizeof(full)) {
            (void) fprintf(stderr, "replay: path too long: %s/%s\n", path, names[i]);
            failed = true;
        } else if (replay_file(full) == 0) {
            replayed++;
        } else {
            failed = true;
        }
        free(names[i]);
    }
    free(names);
    return failed ? -1 : replayed;
}

int main(int argc, char **argv)
{
    long replayed = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            (void) fprintf(stderr, "replay: %s does not exist\n", argv[i]);
            return 1;
        }
        long n = S_ISDIR(st.st_mode) ? replay_directory(argv[i]) : (replay_file(argv[i]) == 0);
        if (n < 0) {
            return 1;
        }
        replayed += n;
    }
    if (replayed == 0) {
        (void) fprintf(stderr, "replay: no input replayed; the corpus is empty or missing\n");
        return 1;
    }
    (void) printf("replayed %ld inputs\n", replayed);
    return 0;
}
