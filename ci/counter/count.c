/*
 * crossmatrix's instruction counter: a qemu TCG plugin (qemu >= 9.0, plugin API >= 3) that
 * counts the guest instructions a Go program executes, keeping out the work whose amount
 * depends on wall time rather than on the program.
 *
 * Counted: every executed guest instruction, added per run of instructions of one symbol
 * inside a translation block (inline, per vCPU: no callback, no lock), so the count is exact
 * and cheap.
 *
 * Kept out (reported as `excluded=`), for Go binaries:
 *   - every instruction of a thread that ran runtime.sysmon — the runtime's monitor thread
 *     wakes every 20 us .. 10 ms of wall time, so its work grows with how slow the emulator is;
 *   - instructions in the symbols named by `exclude=SYM` arguments (repeatable): by default
 *     crossmatrix passes the runtime's spin and sleep loops (runtime.procyield, runtime.osyield,
 *     runtime.usleep, runtime.futex, ...) whose iteration counts depend on timing.
 *
 * Arguments (`-plugin libcrossmatrix-count.so,ARG=VALUE,...`):
 *   thread=SYM    a thread that executes SYM is excluded whole (default: runtime.sysmon;
 *                 `thread=` with no value turns it off); repeatable
 *   exclude=SYM   instructions in SYM are excluded (a symbol name, or a prefix ending in `*`);
 *                 repeatable
 *   extent=SYM    from entering SYM until the thread runs an `end=` symbol, its instructions
 *                 are excluded (work whose amount is decided by a race between threads, like
 *                 creating an M); repeatable
 *   end=SYM       ends an extent; repeatable (patterns as for exclude=)
 *   quiesce=SYM   before running SYM a thread waits until every other thread is parked (in a
 *                 futex wait); repeatable
 *   fresh=on      a thread other than the first starts in an extent (its start-up, until it
 *                 runs an `end=` symbol)
 *   stall=on      hold a `thread=` thread at its first system call for the rest of the run
 *                 (default on): sysmon then never retakes a P from a system call, never sends
 *                 a preemption signal and never wakes the scavenger, so the program's own
 *                 threads do the same work from run to run
 *   profile=on    also print the instructions counted per symbol (for finding what varies)
 *
 * Output, through qemu's plugin log (`-d plugin -D FILE`), one line:
 *   crossmatrix-count counted=N excluded=N total=N vcpus=N threads-excluded=N symbols=yes|no
 * and with profile=on, one `sym N NAME` line per symbol (counted instructions, threads not
 * excluded), most first.
 */
#include <glib.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

typedef struct {
    uint64_t counted;
    uint64_t excluded;
    uint64_t in_thread_sym; /* set to 1 once the vCPU ran a `thread=` symbol */
    uint64_t in_extent;     /* 1 between an `extent=` symbol and an `end=` symbol */
    uint64_t extent_insns;  /* instructions counted while in_extent (taken out at exit) */
} Vcpu;

/*
 * quiesce=SYM: before a thread runs SYM (runtime.startm: hand a P to an idle M, or make one),
 * it waits until every other thread is parked (in a futex wait, or held by stall=). Whether
 * an M is idle when another hands off work is otherwise a race, and the loser makes a new M —
 * which draws from the creating M's random stream and so changes, say, a map's iteration
 * order: a different program run, not just different runtime housekeeping.
 */
#define MAX_VCPUS 4096
static int parked[MAX_VCPUS];  /* 1 while the thread waits in a futex or is stalled */
static int alive[MAX_VCPUS];   /* 1 from the thread's start to its end */
static int in_syscall[MAX_VCPUS]; /* 1 while the thread is in any system call */
static GPtrArray *quiesce_syms;
static int64_t futex_nr = -1;  /* the guest's futex system call number */
static uint64_t quiesce_timeouts;
static uint64_t stall_releases; /* times a held thread was let go: everyone else was parked */


static struct qemu_plugin_scoreboard *board;
static qemu_plugin_u64 counted, excluded, marked, in_extent, extent_insns;
static GPtrArray *extent_syms; /* char*: entering one starts an extent */
static GPtrArray *end_syms;    /* char*: running one ends the extent */
static bool fresh_threads;     /* a thread other than the first starts in an extent */

static GPtrArray *thread_syms;  /* char*: threads running these are excluded whole */
static GPtrArray *exclude_syms; /* char*: instructions in these are excluded */
static bool profile;
static bool stall = true;
static gboolean saw_symbols;

/* profile=on: counted instructions per symbol. */
typedef struct {
    const char *name;
    uint64_t n; /* instructions in the run this callback covers */
    uint64_t total;
} SymRun;
static GHashTable *profile_runs; /* owns the SymRun structs: key = SymRun* */
static GMutex profile_lock;

/* A pattern is a symbol name, or a prefix ending in `*`. */
static gboolean in_list(GPtrArray *list, const char *sym)
{
    if (!sym) {
        return FALSE;
    }
    for (guint i = 0; i < list->len; i++) {
        const char *pat = g_ptr_array_index(list, i);
        size_t n = strlen(pat);
        if (n > 0 && pat[n - 1] == '*' ? strncmp(pat, sym, n - 1) == 0 : strcmp(pat, sym) == 0) {
            return TRUE;
        }
    }
    return FALSE;
}

/* Every other live thread is in a system call: none runs guest code. */
static bool all_others_in_syscalls(unsigned int self, int n)
{
    for (int i = 0; i < n && i < MAX_VCPUS; i++) {
        if (i != (int)self && __atomic_load_n(&alive[i], __ATOMIC_ACQUIRE) &&
            !__atomic_load_n(&in_syscall[i], __ATOMIC_ACQUIRE)) {
            return false;
        }
    }
    return true;
}

static bool all_others_parked(unsigned int self, int n)
{
    for (int i = 0; i < n && i < MAX_VCPUS; i++) {
        if (i != (int)self && __atomic_load_n(&alive[i], __ATOMIC_ACQUIRE) &&
            !__atomic_load_n(&parked[i], __ATOMIC_ACQUIRE)) {
            return false;
        }
    }
    return true;
}

static void quiesce_exec(unsigned int vcpu, void *udata)
{
    /* At most 50 ms: a thread that never parks (cgo code running C) makes the count less
     * exact, never a hang. */
    for (int waited = 0; !all_others_parked(vcpu, qemu_plugin_num_vcpus()); waited++) {
        if (waited >= 1000) {
            __atomic_fetch_add(&quiesce_timeouts, 1, __ATOMIC_RELAXED);
            return;
        }
        g_usleep(50);
    }
}

static void vcpu_exit(qemu_plugin_id_t id, unsigned int vcpu)
{
    if (vcpu < MAX_VCPUS) {
        __atomic_store_n(&alive[vcpu], 0, __ATOMIC_RELEASE);
    }
}

static void on_syscall_ret(qemu_plugin_id_t id, unsigned int vcpu, int64_t num, int64_t ret)
{
    if (vcpu < MAX_VCPUS) {
        __atomic_store_n(&parked[vcpu], 0, __ATOMIC_RELEASE);
        __atomic_store_n(&in_syscall[vcpu], 0, __ATOMIC_RELEASE);
    }
}

static void extent_exec(unsigned int vcpu, void *udata)
{
    qemu_plugin_u64_add(extent_insns, vcpu, (uint64_t)(uintptr_t)udata);
}

static void vcpu_init(qemu_plugin_id_t id, unsigned int vcpu)
{
    static bool first_seen;
    if (vcpu < MAX_VCPUS) {
        __atomic_store_n(&parked[vcpu], 0, __ATOMIC_RELEASE);
        __atomic_store_n(&alive[vcpu], 1, __ATOMIC_RELEASE);
    }
    if (!first_seen) {
        first_seen = true; /* the main thread */
        return;
    }
    if (fresh_threads) {
        qemu_plugin_u64_set(in_extent, vcpu, 1);
    }
}

static void profile_exec(unsigned int vcpu, void *udata)
{
    SymRun *run = udata;
    if (qemu_plugin_u64_get(marked, vcpu) || qemu_plugin_u64_get(in_extent, vcpu)) {
        return;
    }
    __atomic_fetch_add(&run->total, run->n, __ATOMIC_RELAXED);
}

/* Close a run of `n` instructions of one symbol starting at `first`. */
static void close_run(struct qemu_plugin_insn *first, const char *sym, uint64_t n)
{
    if (n == 0) {
        return;
    }
    gboolean exclude = in_list(exclude_syms, sym);
    if (in_list(end_syms, sym)) {
        qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
            first, QEMU_PLUGIN_INLINE_STORE_U64, in_extent, 0);
    }
    if (in_list(extent_syms, sym)) {
        qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
            first, QEMU_PLUGIN_INLINE_STORE_U64, in_extent, 1);
    }
    qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
        first, QEMU_PLUGIN_INLINE_ADD_U64, exclude ? excluded : counted, n);
    if (!exclude && (extent_syms->len || fresh_threads)) {
        qemu_plugin_register_vcpu_insn_exec_cond_cb(first, extent_exec, QEMU_PLUGIN_CB_NO_REGS,
                                                    QEMU_PLUGIN_COND_NE, in_extent, 0,
                                                    (void *)(uintptr_t)n);
    }
    if (in_list(thread_syms, sym)) {
        qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
            first, QEMU_PLUGIN_INLINE_STORE_U64, marked, 1);
    }
    if (in_list(quiesce_syms, sym)) {
        qemu_plugin_register_vcpu_insn_exec_cb(first, quiesce_exec, QEMU_PLUGIN_CB_NO_REGS, NULL);
    }
    if (profile && !exclude) {
        SymRun *run = g_new0(SymRun, 1);
        run->name = sym ? sym : "?";
        run->n = n;
        g_mutex_lock(&profile_lock);
        g_hash_table_add(profile_runs, run);
        g_mutex_unlock(&profile_lock);
        qemu_plugin_register_vcpu_insn_exec_cb(first, profile_exec,
                                               QEMU_PLUGIN_CB_NO_REGS, run);
    }
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    struct qemu_plugin_insn *first = NULL;
    const char *sym = NULL;
    uint64_t run = 0;

    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        const char *s = qemu_plugin_insn_symbol(insn);
        if (s) {
            saw_symbols = TRUE;
        }
        if (first && (s == sym || (s && sym && strcmp(s, sym) == 0))) {
            run++;
            continue;
        }
        if (first) {
            close_run(first, sym, run);
        }
        first = insn;
        sym = s;
        run = 1;
    }
    if (first) {
        close_run(first, sym, run);
    }
}

/*
 * stall=on: a `thread=` thread (sysmon) is held at its first system call — its first sleep — for
 * the rest of the run. A vCPU in a system call is not executing guest code, so qemu's
 * exclusive sections (fork, exit) do not wait for it; exit_group ends it with the process.
 */
static void on_syscall(qemu_plugin_id_t id, unsigned int vcpu, int64_t num, uint64_t a1,
                       uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6,
                       uint64_t a7, uint64_t a8)
{
    if (vcpu < MAX_VCPUS) {
        __atomic_store_n(&in_syscall[vcpu], 1, __ATOMIC_RELEASE);
    }
    /* FUTEX_WAIT (0) and FUTEX_WAIT_BITSET (9), private flag or not: the thread parks. */
    if (num == futex_nr && ((a2 & 0x7f) == 0 || (a2 & 0x7f) == 9) && vcpu < MAX_VCPUS) {
        __atomic_store_n(&parked[vcpu], 1, __ATOMIC_RELEASE);
    }
    if (!stall || !qemu_plugin_u64_get(marked, vcpu)) {
        return;
    }
    if (vcpu < MAX_VCPUS) {
        __atomic_store_n(&parked[vcpu], 1, __ATOMIC_RELEASE);
    }
    /*
     * Held until the process ends — unless no other thread has run guest code for 100 ms (each
     * parked or in a system call): then the program may wait for something only sysmon does
     * (retaking the P of a thread blocked in a system call, a wake-up), and holding it would
     * hang the run. It is let go for one round (to its next system call, where it is
     * held again); the count is then less exact, and `stall-releases=` says so.
     */
    int quiet_ms = 0;
    for (;;) {
        g_usleep(1000);
        if (!all_others_in_syscalls(vcpu, qemu_plugin_num_vcpus())) {
            quiet_ms = 0;
            continue;
        }
        if (++quiet_ms >= 100) {
            __atomic_fetch_add(&stall_releases, 1, __ATOMIC_RELAXED);
            if (vcpu < MAX_VCPUS) {
                __atomic_store_n(&parked[vcpu], 0, __ATOMIC_RELEASE);
            }
            return;
        }
    }
}

static gint by_total(gconstpointer a, gconstpointer b)
{
    uint64_t x = (*(const SymRun **)a)->total, y = (*(const SymRun **)b)->total;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void at_exit(qemu_plugin_id_t id, void *p)
{
    int vcpus = qemu_plugin_num_vcpus();
    uint64_t c = 0, e = 0;
    int threads = 0;
    for (int i = 0; i < vcpus; i++) {
        uint64_t xi = qemu_plugin_u64_get(extent_insns, i);
        uint64_t ci = qemu_plugin_u64_get(counted, i) - xi;
        uint64_t ei = qemu_plugin_u64_get(excluded, i) + xi;
        if (qemu_plugin_u64_get(marked, i)) {
            threads++;
            e += ci + ei;
        } else {
            c += ci;
            e += ei;
        }
    }
    g_autoptr(GString) out = g_string_new(NULL);
    g_string_printf(out,
                    "crossmatrix-count counted=%" PRIu64 " excluded=%" PRIu64
                    " total=%" PRIu64 " vcpus=%d threads-excluded=%d symbols=%s"
                    " quiesce-timeouts=%" PRIu64 " stall-releases=%" PRIu64 "\n",
                    c, e, c + e, vcpus, threads, saw_symbols ? "yes" : "no",
                    __atomic_load_n(&quiesce_timeouts, __ATOMIC_RELAXED),
                    __atomic_load_n(&stall_releases, __ATOMIC_RELAXED));
    if (profile) {
        /* Sum the runs by symbol name. */
        GHashTable *by_name = g_hash_table_new(g_str_hash, g_str_equal);
        GPtrArray *sums = g_ptr_array_new_with_free_func(g_free);
        GHashTableIter it;
        gpointer key;
        g_hash_table_iter_init(&it, profile_runs);
        while (g_hash_table_iter_next(&it, &key, NULL)) {
            SymRun *run = key;
            SymRun *sum = g_hash_table_lookup(by_name, run->name);
            if (!sum) {
                sum = g_new0(SymRun, 1);
                sum->name = run->name;
                g_hash_table_insert(by_name, (gpointer)run->name, sum);
                g_ptr_array_add(sums, sum);
            }
            sum->total += run->total;
        }
        g_ptr_array_sort(sums, by_total);
        for (guint i = 0; i < sums->len; i++) {
            SymRun *sum = g_ptr_array_index(sums, i);
            if (sum->total) {
                g_string_append_printf(out, "sym %" PRIu64 " %s\n", sum->total, sum->name);
            }
        }
        g_ptr_array_free(sums, TRUE);
        g_hash_table_destroy(by_name);
    }
    qemu_plugin_outs(out->str);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv)
{
    gboolean default_thread = TRUE;
    thread_syms = g_ptr_array_new_with_free_func(g_free);
    exclude_syms = g_ptr_array_new_with_free_func(g_free);
    extent_syms = g_ptr_array_new_with_free_func(g_free);
    end_syms = g_ptr_array_new_with_free_func(g_free);
    quiesce_syms = g_ptr_array_new_with_free_func(g_free);
    /* The guest's futex number, by qemu's target name. */
    static const struct { const char *target; int64_t nr; } futexes[] = {
        {"x86_64", 202}, {"i386", 240}, {"aarch64", 98}, {"arm", 240}, {"riscv64", 98},
        {"s390x", 238}, {"ppc64", 221}, {"ppc64le", 221}, {"loongarch64", 98},
        {"mips", 4238}, {"mipsel", 4238}, {"mips64", 5194}, {"mips64el", 5194},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(futexes); i++) {
        if (g_strcmp0(info->target_name, futexes[i].target) == 0) {
            futex_nr = futexes[i].nr;
        }
    }
    for (int i = 0; i < argc; i++) {
        g_auto(GStrv) kv = g_strsplit(argv[i], "=", 2);
        const char *k = kv[0], *v = kv[1] ? kv[1] : "";
        if (g_strcmp0(k, "thread") == 0) {
            default_thread = FALSE;
            if (*v) {
                g_ptr_array_add(thread_syms, g_strdup(v));
            }
        } else if (g_strcmp0(k, "exclude") == 0 && *v) {
            g_ptr_array_add(exclude_syms, g_strdup(v));
        } else if (g_strcmp0(k, "extent") == 0 && *v) {
            g_ptr_array_add(extent_syms, g_strdup(v));
        } else if (g_strcmp0(k, "end") == 0 && *v) {
            g_ptr_array_add(end_syms, g_strdup(v));
        } else if (g_strcmp0(k, "quiesce") == 0 && *v) {
            g_ptr_array_add(quiesce_syms, g_strdup(v));
        } else if (g_strcmp0(k, "fresh") == 0) {
            if (!qemu_plugin_bool_parse(k, v, &fresh_threads)) {
                fprintf(stderr, "crossmatrix-count: fresh=%s: expected on or off\n", v);
                return -1;
            }
        } else if (g_strcmp0(k, "stall") == 0) {
            if (!qemu_plugin_bool_parse(k, v, &stall)) {
                fprintf(stderr, "crossmatrix-count: stall=%s: expected on or off\n", v);
                return -1;
            }
        } else if (g_strcmp0(k, "profile") == 0) {
            if (!qemu_plugin_bool_parse(k, v, &profile)) {
                fprintf(stderr, "crossmatrix-count: profile=%s: expected on or off\n", v);
                return -1;
            }
        } else {
            fprintf(stderr, "crossmatrix-count: unknown argument %s (thread=SYM, exclude=SYM, profile=on)\n",
                    argv[i]);
            return -1;
        }
    }
    if (default_thread) {
        g_ptr_array_add(thread_syms, g_strdup("runtime.sysmon"));
    }
    board = qemu_plugin_scoreboard_new(sizeof(Vcpu));
    counted = qemu_plugin_scoreboard_u64_in_struct(board, Vcpu, counted);
    excluded = qemu_plugin_scoreboard_u64_in_struct(board, Vcpu, excluded);
    marked = qemu_plugin_scoreboard_u64_in_struct(board, Vcpu, in_thread_sym);
    in_extent = qemu_plugin_scoreboard_u64_in_struct(board, Vcpu, in_extent);
    extent_insns = qemu_plugin_scoreboard_u64_in_struct(board, Vcpu, extent_insns);
    qemu_plugin_register_vcpu_init_cb(id, vcpu_init);
    profile_runs = g_hash_table_new_full(g_direct_hash, g_direct_equal, g_free, NULL);
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, on_syscall);
    qemu_plugin_register_vcpu_syscall_ret_cb(id, on_syscall_ret);
    qemu_plugin_register_vcpu_exit_cb(id, vcpu_exit);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
