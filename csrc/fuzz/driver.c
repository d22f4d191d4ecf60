/*
 * driver.c - a standalone main() for fuzz_engine.c where libFuzzer is not available
 * (gcc): runs every input of the corpus through LLVMFuzzerTestOneInput, then random
 * mutations of them (bit flips, byte changes, insertions, deletions, truncation,
 * extension, splices of two inputs) until the time limit. No coverage feedback: a plain
 * seeded random search around the corpus, meant to be built with -fsanitize=address,undefined.
 *
 *   driver [-t seconds] [-s seed] [-o crash_dir] [-T per-input timeout, s] corpus_dir_or_file...
 *
 * A file argument is run once (to reproduce a crash). When an input crashes (an abort()
 * of the harness, or a sanitizer report), it is written to crash_dir/crash-<seed>-<n>
 * (default: the current directory) before the process dies, and the path is printed.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern unsigned long fuzz_engine_created;

/* set by the sanitizer runtimes when linked in */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

#define MAX_INPUT 4096
#define MAX_CORPUS 4096

static uint8_t *corpus[MAX_CORPUS];
static size_t corpus_len[MAX_CORPUS];
static int n_corpus = 0;

/* the input being run, for the crash handlers */
static uint8_t cur[MAX_INPUT];
static size_t cur_len = 0;
static char crash_path[4096];

static void save_crash(void)
{
    int fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        ssize_t w = write(fd, cur, cur_len);
        (void)w;
        close(fd);
    }
    {
        static const char pre[] = "\n== driver: the crashing input is in ";
        ssize_t w = write(2, pre, sizeof(pre) - 1);
        w = write(2, crash_path, strlen(crash_path));
        w = write(2, "\n", 1);
        (void)w;
    }
}

static void on_signal(int sig)
{
    if (sig == SIGALRM) {
        static const char m[] = "\n== driver: an input ran longer than the per-input timeout (-T)\n";
        ssize_t w = write(2, m, sizeof(m) - 1);
        (void)w;
    }
    save_crash();
    signal(sig, SIG_DFL);
    raise(sig);
}

static unsigned input_timeout = 10; /* seconds per input */
static uint64_t rng_state;
static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void run_one(const uint8_t *d, size_t n)
{
    if (n > MAX_INPUT) n = MAX_INPUT;
    memcpy(cur, d, n);
    cur_len = n;
    alarm(input_timeout); /* a hang is a failure too (SIGALRM saves the input) */
    LLVMFuzzerTestOneInput(cur, cur_len);
    alarm(0);
}

static void add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;
    if (!f) {
        perror(path);
        exit(2);
    }
    buf = (uint8_t *)malloc(MAX_INPUT);
    if (!buf) abort();
    n = fread(buf, 1, MAX_INPUT, f);
    fclose(f);
    if (n_corpus < MAX_CORPUS) {
        corpus[n_corpus] = buf;
        corpus_len[n_corpus++] = n;
    } else {
        free(buf);
    }
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void add_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *ent;
    char **names = NULL;
    size_t nn = 0, cap = 0, k;
    if (!d) {
        perror(dir);
        exit(2);
    }
    while ((ent = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        if (ent->d_name[0] == '.') continue;
        snprintf(path, sizeof(path), "%s/%s", dir, ent->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (nn == cap) {
            cap = cap ? 2 * cap : 64;
            names = (char **)realloc(names, cap * sizeof(char *));
            if (!names) abort();
        }
        names[nn++] = strdup(path);
    }
    closedir(d);
    qsort(names, nn, sizeof(char *), cmp_str); /* a reproducible order */
    for (k = 0; k < nn; k++) {
        add_file(names[k]);
        free(names[k]);
    }
    free(names);
}

static size_t mutate(uint8_t *b, size_t n)
{
    static const uint8_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, 0xfe, 200, 213, 224, 250, 16, 32, 64};
    int k, nm = 1 + (int)(rnd() % 6);
    for (k = 0; k < nm; k++) {
        size_t i = n ? (size_t)(rnd() % n) : 0, m;
        switch (rnd() % 9) {
        case 0: if (n) b[i] ^= (uint8_t)(1u << (rnd() % 8)); break;
        case 1: if (n) b[i] = (uint8_t)rnd(); break;
        case 2: if (n) b[i] = interesting[rnd() % sizeof(interesting)]; break;
        case 3: if (n) b[i] = (uint8_t)(b[i] + 1 - 2 * (int)(rnd() % 2)); break;
        case 4: /* insert a byte */
            if (n < MAX_INPUT) {
                memmove(b + i + 1, b + i, n - i);
                b[i] = (uint8_t)rnd();
                n++;
            }
            break;
        case 5: /* delete a run */
            if (n) {
                m = 1 + (size_t)(rnd() % 8);
                if (m > n - i) m = n - i;
                memmove(b + i, b + i + m, n - i - m);
                n -= m;
            }
            break;
        case 6: /* truncate */
            n = n ? (size_t)(rnd() % n) : 0;
            break;
        case 7: /* extend with random bytes */
            m = 1 + (size_t)(rnd() % 64);
            while (m-- && n < MAX_INPUT) b[n++] = (uint8_t)rnd();
            break;
        default: /* splice in a piece of another input */
            if (n_corpus) {
                const int c = (int)(rnd() % (uint64_t)n_corpus);
                if (corpus_len[c]) {
                    size_t from = (size_t)(rnd() % corpus_len[c]), len = 1 + (size_t)(rnd() % 32);
                    if (len > corpus_len[c] - from) len = corpus_len[c] - from;
                    if (i + len > MAX_INPUT) len = MAX_INPUT - i;
                    memcpy(b + i, corpus[c] + from, len);
                    if (i + len > n) n = i + len;
                }
            }
            break;
        }
    }
    return n;
}

int main(int argc, char **argv)
{
    double seconds = 60.0;
    uint64_t seed = 1;
    const char *out = ".";
    int opt, k, n_files = 0;
    unsigned long execs = 0, runs = 0;
    struct timespec t0, t1;
    static uint8_t buf[MAX_INPUT];

    while ((opt = getopt(argc, argv, "t:s:o:T:")) != -1) {
        if (opt == 't') seconds = atof(optarg);
        else if (opt == 's') seed = strtoull(optarg, NULL, 10);
        else if (opt == 'o') out = optarg;
        else if (opt == 'T') input_timeout = (unsigned)atoi(optarg);
        else {
            fprintf(stderr, "usage: %s [-t seconds] [-s seed] [-o crash_dir] [-T timeout_per_input] corpus_dir_or_file...\n", argv[0]);
            return 2;
        }
    }
    rng_state = seed;
    snprintf(crash_path, sizeof(crash_path), "%s/crash-%llu-seed", out, (unsigned long long)seed);
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(save_crash);
    signal(SIGABRT, on_signal);
    signal(SIGSEGV, on_signal);
    signal(SIGFPE, on_signal);
    signal(SIGALRM, on_signal);

    for (k = optind; k < argc; k++) {
        struct stat st;
        if (stat(argv[k], &st) != 0) {
            perror(argv[k]);
            return 2;
        }
        if (S_ISDIR(st.st_mode)) add_dir(argv[k]);
        else add_file(argv[k]), n_files++;
    }
    for (k = 0; k < n_corpus; k++) {
        snprintf(crash_path, sizeof(crash_path), "%s/crash-corpus-%d", out, k);
        run_one(corpus[k], corpus_len[k]);
        runs++;
    }
    fprintf(stderr, "driver: %d corpus inputs ok (%lu gave an engine)\n", n_corpus, fuzz_engine_created);
    if (n_corpus == 0 || (n_files == argc - optind && n_files > 0)) return 0; /* files only: reproduce */

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        const int c = (int)(rnd() % (uint64_t)n_corpus);
        size_t n = corpus_len[c];
        double el;
        memcpy(buf, corpus[c], n);
        n = mutate(buf, n);
        snprintf(crash_path, sizeof(crash_path), "%s/crash-%llu-%lu", out, (unsigned long long)seed, execs);
        run_one(buf, n);
        execs++;
        if ((execs & 63) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            el = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
            if (el >= seconds) break;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(stderr, "driver: %lu mutated inputs in %.1f s (seed %llu), %lu of all %lu inputs gave an engine; no crash\n",
            execs, (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec),
            (unsigned long long)seed, fuzz_engine_created, execs + runs);
    return 0;
}
