/* redeemer.c — a client of test_abuse.py's brute-force test, built by the
 * test: THREADS keep-alive connections bound to SOURCE_IP redeem CODE with a
 * new order id each time, each as fast as its answers come, until SECONDS
 * pass or SIGINT/SIGTERM. A C client, so that its own CPU use does not
 * decide its rate on a small machine: the server's answers do. Prints
 *   REDEEM_RESULT <201 answers> <other answers> <seconds>
 * usage: redeemer URL TOKEN CODE SOURCE_IP THREADS SECONDS */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *url, *code, *source;
static struct curl_slist *headers;
static atomic_int stop;
static atomic_long ok, other;

static size_t discard(char *p, size_t size, size_t n, void *u)
{
    (void)p;
    (void)u;
    return size * n;
}

static void *run(void *arg)
{
    long id = (long)arg;
    CURL *h = curl_easy_init();
    char iface[64], body[256];
    snprintf(iface, sizeof iface, "host!%s", source);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_INTERFACE, iface);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
    for (long n = 0; !atomic_load(&stop); n++) {
        snprintf(body, sizeof body,
                 "{\"code\":\"%s\",\"order\":{\"id\":\"c%ld-%ld-%d\",\"amount\":10000,\"currency\":\"KRW\"}}", code,
                 id, n, (int)getpid());
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        long status = 0;
        if (curl_easy_perform(h) == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        atomic_fetch_add(status == 201 ? &ok : &other, 1);
    }
    curl_easy_cleanup(h);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: redeemer URL TOKEN CODE SOURCE_IP THREADS SECONDS\n");
        return 2;
    }
    url = argv[1];
    code = argv[3];
    source = argv[4];
    int threads = atoi(argv[5]);
    char auth[512];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", argv[2]);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    headers = curl_slist_append(curl_slist_append(NULL, auth), "Content-Type: application/json");
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    struct timespec t0, t1, limit = {.tv_sec = atoi(argv[6])};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t th[64];
    if (threads < 1 || threads > 64)
        threads = 1;
    for (long i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, run, (void *)i);
    sigtimedwait(&sigs, NULL, &limit);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    atomic_store(&stop, 1);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("REDEEM_RESULT %ld %ld %.3f\n", atomic_load(&ok), atomic_load(&other), secs);
    curl_slist_free_all(headers);
    curl_global_cleanup();
    return 0;
}
