/* migrate.c - migration-aware relabelling: per layer, an optimal assignment
 * (Hungarian / Jonker-Volgenant shortest augmenting paths) of the new plan's
 * per-GPU expert sets to the old plan's GPUs, maximising the experts that
 * stay, then slots: a staying expert keeps its old slot. */
#include <stdlib.h>
#include <string.h>

#include "planner/mp_planner.h"

int mp_assign_min_cost(const int64_t *cost, int32_t n, int32_t *col_of_row)
{
    /* 1-based potentials u (rows), v (cols); p[j] = row matched to col j */
    int64_t *u = calloc((size_t)n + 1, sizeof *u), *v = calloc((size_t)n + 1, sizeof *v);
    int64_t *minv = malloc(((size_t)n + 1) * sizeof *minv);
    int32_t *p = calloc((size_t)n + 1, sizeof *p), *way = calloc((size_t)n + 1, sizeof *way);
    char *used = malloc((size_t)n + 1);
    if (!u || !v || !minv || !p || !way || !used) {
        free(u), free(v), free(minv), free(p), free(way), free(used);
        return MP_ENOMEM;
    }
    const int64_t INF = INT64_MAX / 4;
    for (int32_t i = 1; i <= n; i++) {
        p[0] = i;
        int32_t j0 = 0;
        for (int32_t j = 0; j <= n; j++) minv[j] = INF, used[j] = 0;
        do {
            used[j0] = 1;
            int32_t i0 = p[j0], j1 = 0;
            int64_t delta = INF;
            for (int32_t j = 1; j <= n; j++) {
                if (used[j]) continue;
                int64_t cur = cost[(int64_t)(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
                if (cur < minv[j]) minv[j] = cur, way[j] = j0;
                if (minv[j] < delta) delta = minv[j], j1 = j;
            }
            for (int32_t j = 0; j <= n; j++) {
                if (used[j]) u[p[j]] += delta, v[j] -= delta;
                else minv[j] -= delta;
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            int32_t j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
    for (int32_t j = 1; j <= n; j++) col_of_row[p[j] - 1] = j - 1;
    free(u), free(v), free(minv), free(p), free(way), free(used);
    return 0;
}

int mp_plan_migrate(mp_plan *plan, const mp_plan *old, int64_t bytes_per_expert, mp_migration *out, mp_err *err)
{
    memset(out, 0, sizeof *out);
    int32_t P = plan->topo.gpus, S = plan->topo.slots_per_gpu, R = plan->slots, E = plan->experts;
    if (old->layers != plan->layers || old->experts != E || old->topo.gpus != P || old->topo.slots_per_gpu != S)
        return mp_err_set(err, MP_ESHAPE,
                          "migrate: the old plan is %d layers x %d experts on %d GPUs x %d slots, the new one %d x %d on %d x %d",
                          old->layers, old->experts, old->topo.gpus, old->topo.slots_per_gpu, plan->layers, E, P, S);
    if ((double)plan->layers * P * P * P > 17179869184.0) /* 2^34: the assignment is O(P^3) per layer */
        return mp_err_set(err, MP_EINVAL, "migrate: %d layers x %d GPUs is too large for the O(P^3) assignment",
                          plan->layers, P);
    if (old->slots != R || R != P * S)
        return mp_err_set(err, MP_ESHAPE, "migrate: the plans have %d and %d slots", old->slots, R);
    for (int64_t i = 0; i < (int64_t)plan->layers * R; i++) /* ids index on_old below */
        if (plan->phy2log[i] < 0 || plan->phy2log[i] >= E || old->phy2log[i] < 0 || old->phy2log[i] >= E)
            return mp_err_set(err, MP_ERANGE, "migrate: layer %lld slot %lld holds an expert outside 0..%d",
                              (long long)(i / R), (long long)(i % R), E - 1);
    int64_t *cost = malloc((size_t)P * P * sizeof *cost);
    int32_t *col = malloc((size_t)P * sizeof *col), *row = malloc((size_t)R * sizeof *row);
    uint8_t *on_old = calloc((size_t)P * E, 1);
    char *taken = malloc((size_t)S), *used_new = malloc((size_t)S);
    if (!cost || !col || !row || !on_old || !taken || !used_new) {
        free(cost), free(col), free(row), free(on_old), free(taken), free(used_new);
        return mp_err_set(err, MP_ENOMEM, "migrate: out of memory");
    }
    for (int32_t l = 0; l < plan->layers; l++) {
        const int32_t *orow = mp_plan_layer(old, l);
        int32_t *nrow = mp_plan_layer(plan, l);
        memset(on_old, 0, (size_t)P * E);
        for (int32_t s = 0; s < R; s++) on_old[(int64_t)(s / S) * E + orow[s]] = 1;
        /* cost[new gpu i][old gpu j] = -(distinct experts of i already on j) */
        for (int32_t i = 0; i < P; i++)
            for (int32_t j = 0; j < P; j++) {
                int64_t c = 0;
                for (int32_t k = 0; k < S; k++) {
                    int32_t e = nrow[i * S + k], first = 1;
                    for (int32_t q = 0; q < k; q++) first &= nrow[i * S + q] != e;
                    c += first && on_old[(int64_t)j * E + e];
                }
                cost[(int64_t)i * P + j] = -c;
            }
        if (mp_assign_min_cost(cost, P, col)) {
            free(cost), free(col), free(row), free(on_old), free(taken), free(used_new);
            return mp_err_set(err, MP_ENOMEM, "migrate: out of memory");
        }
        for (int32_t s = 0; s < R; s++) row[s] = -1;
        for (int32_t i = 0; i < P; i++) {
            int32_t j = col[i];
            memset(taken, 0, (size_t)S);
            memset(used_new, 0, (size_t)S);
            /* staying experts keep their old slot */
            for (int32_t k = 0; k < S; k++) {
                int32_t e = nrow[i * S + k];
                for (int32_t q = 0; q < S; q++)
                    if (!taken[q] && orow[j * S + q] == e) {
                        taken[q] = 1, used_new[k] = 1;
                        row[j * S + q] = e;
                        out->kept_experts++;
                        break;
                    }
            }
            /* the others fill the free slots in order */
            int32_t q = 0;
            for (int32_t k = 0; k < S; k++) {
                if (used_new[k]) continue;
                while (taken[q]) q++;
                taken[q] = 1;
                row[j * S + q] = nrow[i * S + k];
                out->moved_experts++;
            }
        }
        memcpy(nrow, row, (size_t)R * sizeof *row);
    }
    free(cost), free(col), free(row), free(on_old), free(taken), free(used_new);
    out->moved_bytes = out->moved_experts * bytes_per_expert;
    return mp_plan_derive(plan, err);
}

/* ---- the move path: which layers to switch, in order of gain per move ---- */

void mp_move_path_destroy(mp_move_path *p)
{
    if (!p) return;
    free(p->step);
    free(p);
}

/* expert copies that row `nw` puts on a GPU which row `old` did not hold there */
static int64_t layer_moves(const int32_t *old, const int32_t *nw, int32_t P, int32_t S, int32_t *cnt)
{
    int64_t moved = 0;
    for (int32_t g = 0; g < P; g++) {
        for (int32_t k = 0; k < S; k++) cnt[old[g * S + k]]++;
        for (int32_t k = 0; k < S; k++) {
            int32_t e = nw[g * S + k];
            if (cnt[e] > 0) cnt[e]--;
            else moved++;
        }
        for (int32_t k = 0; k < S; k++) cnt[old[g * S + k]] = 0;
    }
    return moved;
}

static int cmp_step(const void *a, const void *b)
{
    const mp_move_step *x = a, *y = b;
    /* gain per move, descending: x->gain / x->moves > y->gain / y->moves, without dividing */
    double l = x->gain * (double)y->moves, r = y->gain * (double)x->moves;
    if (l != r) return l > r ? -1 : 1;
    return (x->layer > y->layer) - (x->layer < y->layer);
}

int mp_move_path_build(mp_move_path **out, const mp_plan *old, const mp_plan *nw, const double *load,
                       int64_t bytes_per_expert, mp_err *err)
{
    *out = NULL;
    int32_t L = nw->layers, E = nw->experts, R = nw->slots, P = nw->topo.gpus, S = nw->topo.slots_per_gpu;
    if (old->layers != L || old->experts != E || old->slots != R || old->topo.gpus != P ||
        old->topo.slots_per_gpu != S || R != P * S)
        return mp_err_set(err, MP_ESHAPE, "move path: the plans differ in shape (%d x %d x %d slots and %d x %d x %d)",
                          old->layers, old->experts, old->slots, L, E, R);
    if (bytes_per_expert < 0) return mp_err_set(err, MP_EINVAL, "move path: negative bytes per expert");
    for (int64_t i = 0; i < (int64_t)L * R; i++)
        if (nw->phy2log[i] < 0 || nw->phy2log[i] >= E || old->phy2log[i] < 0 || old->phy2log[i] >= E)
            return mp_err_set(err, MP_ERANGE, "move path: layer %lld slot %lld holds an expert outside 0..%d",
                              (long long)(i / R), (long long)(i % R), E - 1);
    mp_move_path *p = calloc(1, sizeof *p);
    int32_t *cnt = calloc((size_t)E, sizeof *cnt);
    double *gpu = malloc((size_t)P * sizeof *gpu);
    if (p) p->step = calloc((size_t)L, sizeof *p->step);
    if (!p || !p->step || !cnt || !gpu) {
        mp_move_path_destroy(p);
        free(cnt), free(gpu);
        return mp_err_set(err, MP_ENOMEM, "move path: out of memory");
    }
    p->layers = L;
    p->bytes_per_expert = bytes_per_expert;
    double start = 0, full = 0;
    for (int32_t l = 0; l < L; l++) {
        const double *w = load + (int64_t)l * E;
        double tot = 0;
        for (int32_t e = 0; e < E; e++) tot += w[e];
        double mean = tot / P;
        const int32_t *orow = mp_plan_layer(old, l), *nrow = mp_plan_layer(nw, l);
        double a = mp_layer_max_load(orow, R, S, w, E, cnt, gpu), b = mp_layer_max_load(nrow, R, S, w, E, cnt, gpu);
        double mo = mean > 0 ? a / mean : 1, mn = mean > 0 ? b / mean : 1;
        start += mo;
        full += mn;
        memset(cnt, 0, (size_t)E * sizeof *cnt);
        int64_t mv = layer_moves(orow, nrow, P, S, cnt);
        p->total_moves += mv;
        double gain = (mo - mn) / L;
        if (mv > 0 && gain > 0) { /* a layer that moves nothing or gains nothing is not on the path */
            mp_move_step *st = &p->step[p->n++];
            st->layer = l;
            st->moves = mv;
            st->bytes = mv * bytes_per_expert;
            st->gain = gain;
        }
    }
    p->start_max_over_mean = start / L;
    p->full_max_over_mean = full / L;
    qsort(p->step, (size_t)p->n, sizeof *p->step, cmp_step);
    double cur = p->start_max_over_mean, G = 0;
    int64_t moves = 0, M = 0;
    for (int32_t i = 0; i < p->n; i++) G += p->step[i].gain, M += p->step[i].moves;
    p->knee = 0;
    for (int32_t i = 0; i < p->n; i++) {
        mp_move_step *st = &p->step[i];
        moves += st->moves;
        cur -= st->gain;
        st->cum_moves = moves;
        st->cum_bytes = moves * bytes_per_expert;
        st->max_over_mean = cur;
        /* the knee: the point of the concave curve farthest above its chord, i.e. every step whose
           gain per move is at least the whole path's (G / M) */
        if (st->gain * (double)M >= G * (double)st->moves) p->knee = i + 1;
    }
    free(cnt), free(gpu);
    *out = p;
    return 0;
}

void mp_move_path_choose(mp_move_path *p, int64_t max_moves, int64_t max_bytes, int32_t max_layers)
{
    int budget = max_moves >= 0 || max_bytes >= 0;
    int64_t moves = 0, bytes = 0;
    int32_t layers = 0;
    p->chosen_moves = p->chosen_bytes = 0;
    p->chosen_layers = 0;
    p->chosen_max_over_mean = p->start_max_over_mean;
    for (int32_t i = 0; i < p->n; i++) {
        mp_move_step *st = &p->step[i];
        st->taken = 0;
        if (!budget && i >= p->knee) continue;
        if (max_layers >= 0 && layers >= max_layers) continue;
        if (max_moves >= 0 && moves + st->moves > max_moves) continue; /* a smaller layer later may fit */
        if (max_bytes >= 0 && bytes + st->bytes > max_bytes) continue;
        st->taken = 1;
        moves += st->moves;
        bytes += st->bytes;
        layers++;
        p->chosen_max_over_mean -= st->gain;
    }
    p->chosen_moves = moves;
    p->chosen_bytes = bytes;
    p->chosen_layers = layers;
}

int mp_move_path_apply(mp_plan *nw, const mp_plan *old, const mp_move_path *p, mp_err *err)
{
    if (nw->layers != p->layers || old->layers != p->layers || old->slots != nw->slots)
        return mp_err_set(err, MP_ESHAPE, "move path: the plans are not the path's");
    char *take = calloc((size_t)p->layers, 1);
    if (!take) return mp_err_set(err, MP_ENOMEM, "move path: out of memory");
    for (int32_t i = 0; i < p->n; i++)
        if (p->step[i].taken) take[p->step[i].layer] = 1;
    for (int32_t l = 0; l < p->layers; l++)
        if (!take[l]) memcpy(mp_plan_layer(nw, l), mp_plan_layer(old, l), (size_t)nw->slots * sizeof(int32_t));
    free(take);
    return mp_plan_derive(nw, err);
}
