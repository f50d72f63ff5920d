/* A test host for arrayctl --node (C99, C ABI only): members of one in-memory network in this
 * process, each serving its Admin API on DIR/NAME/admin.sock.
 *
 *   admin_host DIR NAME... [+NAME...]
 *
 * The plain NAMEs form one array (the first is its primary, the others its backup primaries in
 * order; three back-ends when there are three members, else the first is the only one); a
 * +NAME is a standalone member (a front-end) that may join later. Prints "ready" once every
 * socket is served, then waits for SIGTERM or SIGINT and closes everything. Exit 0 after a
 * clean stop, 1 when a call fails (reason and message on standard error), 2 for bad usage.
 *
 * Commands on standard input, one per line, each answered "ok" or "error ..." on standard
 * output: "isolate NAME" (cut it off the network), "heal", "close NAME" (stop the member, as a
 * crash would look to the others; its socket goes with it). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "arraykit/arraykit.h"

#define MAX_MEMBERS 10

/* Shared by main and the command reader. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *g_names[MAX_MEMBERS];
static ak_node *g_nodes[MAX_MEMBERS];
static int g_count;
static ak_network *g_network;

static int fail(const char *what, ak_status status) {
  fprintf(stderr, "admin_host: %s: %s (%s): %s\n", what, ak_strerror(status),
          ak_last_error_reason(), ak_last_error());
  return 1;
}

/* Appends to `out` (capacity `cap`); 0 when it no longer fits. */
static int append(char *out, size_t cap, const char *text) {
  size_t used = strlen(out);
  size_t more = strlen(text);
  if (used + more + 1 > cap) return 0;
  memcpy(out + used, text, more + 1);
  return 1;
}

static void answer(ak_status status) {
  if (status == AK_OK) {
    printf("ok\n");
  } else {
    printf("error %s: %s\n", ak_last_error_reason(), ak_last_error());
  }
  fflush(stdout);
}

/* Reads commands until standard input ends. */
static void *read_commands(void *unused) {
  char line[512];
  (void)unused;
  while (fgets(line, sizeof line, stdin) != NULL) {
    char *end = strchr(line, '\n');
    int i, found = -1;
    if (end != NULL) *end = '\0';
    pthread_mutex_lock(&g_lock);
    if (strcmp(line, "heal") == 0) {
      answer(ak_network_heal(g_network));
    } else if (strncmp(line, "isolate ", 8) == 0) {
      answer(ak_network_isolate(g_network, line + 8));
    } else if (strncmp(line, "close ", 6) == 0) {
      for (i = 0; i < g_count; ++i) {
        if (g_nodes[i] != NULL && strcmp(g_names[i], line + 6) == 0) found = i;
      }
      if (found < 0) {
        printf("error not_found: no open member %s\n", line + 6);
        fflush(stdout);
      } else {
        ak_status status = ak_node_close(g_nodes[found]);
        if (status == AK_OK) g_nodes[found] = NULL;
        answer(status);
      }
    } else {
      printf("error usage: isolate NAME | heal | close NAME\n");
      fflush(stdout);
    }
    pthread_mutex_unlock(&g_lock);
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *names[MAX_MEMBERS];
  int standalone[MAX_MEMBERS];
  ak_node *nodes[MAX_MEMBERS] = {0};
  int count = 0, in_array = 0, i, rc = 0;
  char description[8192] = "";
  char path[4096];
  char member[256];
  ak_network *network = NULL;
  ak_status status;
  sigset_t stop_signals;
  int signal_number = 0;

  if (argc < 3 || argc - 2 > MAX_MEMBERS) {
    fprintf(stderr, "usage: admin_host DIR NAME... [+NAME...] (at most %d members)\n",
            MAX_MEMBERS);
    return 2;
  }
  for (i = 2; i < argc; ++i) {
    standalone[count] = argv[i][0] == '+';
    names[count] = argv[i] + (standalone[count] ? 1 : 0);
    if (!standalone[count]) ++in_array;
    ++count;
  }
  if (in_array == 0) {
    fprintf(stderr, "admin_host: at least one member must form the array\n");
    return 2;
  }
  /* Block the stop signals before any thread starts, so only sigwait receives them. */
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  if ((status = ak_network_new(&network, 1)) != AK_OK) return fail("ak_network_new", status);
  for (i = 0; i < count && rc == 0; ++i) {
    ak_node_options options;
    int backend = !standalone[i] && (in_array == 3 || i == 0);
    snprintf(path, sizeof path, "%s/%s", argv[1], names[i]);
    snprintf(member, sizeof member, "{\"roles\": [\"frontend\"%s], \"rack\": \"r%d\"}",
             backend ? ", \"backend\"" : "", i + 1);
    ak_node_options_init(&options, AK_NODE_OPTIONS_VERSION);
    options.name = names[i];
    options.data_dir = path;
    options.member_json = member;
    options.network = network;
    if ((status = ak_node_open(&nodes[i], &options)) != AK_OK) rc = fail(names[i], status);
  }
  /* The description: members, primary, backup primaries; failover off, short intervals. */
  append(description, sizeof description, "{\"members\": [");
  for (i = 0; i < count && rc == 0; ++i) {
    int backend = in_array == 3 || i == 0;
    if (standalone[i]) continue;
    snprintf(member, sizeof member,
             "%s{\"name\": \"%s\", \"roles\": [\"frontend\"%s], \"rack\": \"r%d\"}",
             i == 0 ? "" : ", ", names[i], backend ? ", \"backend\"" : "", i + 1);
    if (!append(description, sizeof description, member)) rc = 2;
  }
  snprintf(member, sizeof member, "], \"primary\": \"%s\", \"backup_primaries\": [", names[0]);
  append(description, sizeof description, member);
  for (i = 1; i < count && rc == 0; ++i) {
    if (standalone[i]) continue;
    snprintf(member, sizeof member, "%s\"%s\"", i == 1 ? "" : ", ", names[i]);
    if (!append(description, sizeof description, member)) rc = 2;
  }
  append(description, sizeof description, "], \"resilience\": {\"monitor_interval_s\": 0.05}}");
  for (i = 0; i < count && rc == 0; ++i) {
    if (standalone[i] || in_array == 1) continue;
    if ((status = ak_node_create_array(nodes[i], description)) != AK_OK) {
      rc = fail("ak_node_create_array", status);
    }
  }
  for (i = 0; i < count && rc == 0; ++i) {
    if ((status = ak_node_serve_admin(nodes[i], NULL)) != AK_OK) rc = fail(names[i], status);
  }
  if (rc == 0) {
    pthread_t reader;
    for (i = 0; i < count; ++i) {
      g_names[i] = names[i];
      g_nodes[i] = nodes[i];
    }
    g_count = count;
    g_network = network;
    printf("ready\n");
    fflush(stdout);
    /* The reader may stay blocked on standard input until exit: it is detached, and finds no
     * member nor network once the stop took them away from it. */
    if (pthread_create(&reader, NULL, read_commands, NULL) == 0) pthread_detach(reader);
    sigwait(&stop_signals, &signal_number);
    pthread_mutex_lock(&g_lock);
    for (i = 0; i < count; ++i) {
      nodes[i] = g_nodes[i];
      g_nodes[i] = NULL;
    }
    g_network = NULL;
    pthread_mutex_unlock(&g_lock);
  }
  for (i = 0; i < count; ++i) {
    if (nodes[i] != NULL && (status = ak_node_close(nodes[i])) != AK_OK) {
      rc = fail("ak_node_close", status);
    }
  }
  ak_network_free(network);
  return rc;
}
