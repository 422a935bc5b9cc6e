/* fuzz.h — what every harness in tests/fuzz shares. Each harness defines
 * LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize); it is
 * linked either with libFuzzer (`make fuzz`, clang) or with driver.c
 * (`make test`, any compiler with ASan/UBSan), which runs files once. */
#ifndef PROMO_FUZZ_H
#define PROMO_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property the parser promises: a violation is a finding, like a crash. */
#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond);     \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

/* The input as the server holds a body: a heap copy with a NUL after it
 * (http/ reads bodies into such a buffer). Caller frees. */
static inline char *fuzz_body(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = 0;
    return s;
}

#endif
