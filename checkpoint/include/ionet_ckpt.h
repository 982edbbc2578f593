/* libionet-ckpt, C API: HDF5 checkpoint sets with an atomic commit protocol, for C and MPI
 * programs. Nothing throws across this interface: every function returns an ionet_ckpt_status
 * and ionet_ckpt_error() gives the last failure as one line naming the file and what is wrong.
 * docs/checkpoint.md describes the on-disk layout, the MANIFEST and the commit protocol. */
#ifndef IONET_CKPT_H
#define IONET_CKPT_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes (ionet::ckpt::Status has the same values). */
typedef enum {
  IONET_CKPT_OK = 0,
  IONET_CKPT_ERR_ARG = 1,       /* bad argument (name, shape, keep < 2, buffer too small) */
  IONET_CKPT_ERR_STATE = 2,     /* call out of order (write without begin, read without restore) */
  IONET_CKPT_ERR_IO = 3,        /* filesystem or HDF5 failure */
  IONET_CKPT_ERR_NOSPACE = 4,   /* ENOSPC / EDQUOT while writing */
  IONET_CKPT_ERR_NOT_FOUND = 5, /* no valid set to restore; no such dataset or metadata key */
  IONET_CKPT_ERR_CORRUPT = 6,   /* a manifest or file fails verification */
  IONET_CKPT_ERR_MISMATCH = 7,  /* dtype or number of ranks differs from what was asked */
  IONET_CKPT_ERR_MPI = 8,       /* an MPI call failed, or MPI was finalized under the handle */
  IONET_CKPT_ERR_INTERNAL = 9   /* out of memory or an unexpected exception */
} ionet_ckpt_status;

/* Element types of datasets; stored little-endian (IEEE floats, two's complement ints). */
typedef enum {
  IONET_CKPT_FLOAT64 = 0,
  IONET_CKPT_FLOAT32 = 1,
  IONET_CKPT_INT32 = 2,
  IONET_CKPT_INT64 = 3,
  IONET_CKPT_UINT8 = 4
} ionet_ckpt_dtype;

#define IONET_CKPT_MAX_DIMS 32

typedef struct ionet_ckpt ionet_ckpt_t;

/* Opens a checkpoint directory. dir NULL or "": $IONET_CHECKPOINT_DIR. keep: how many committed
 * sets to retain (0: default 2; 1 or negative: IONET_CKPT_ERR_ARG). comm: the communicator of the
 * ranks that checkpoint together; MPI_COMM_NULL means MPI_COMM_WORLD when MPI is initialized and
 * not finalized, and a single rank otherwise. Not collective. On failure *out still receives a
 * handle holding the message (NULL only when out of memory): read ionet_ckpt_error, then close. */
int ionet_ckpt_open(const char* dir, int keep, MPI_Comm comm, ionet_ckpt_t** out);

/* Releases the handle; an uncommitted set of this rank is abandoned (its step-N.tmp directory is
 * removed by the next begin). NULL is allowed. */
void ionet_ckpt_close(ionet_ckpt_t* h);

/* The last failure of a call on h, one line; "" after a success. Valid until the next call. */
const char* ionet_ckpt_error(const ionet_ckpt_t* h);

/* "IONET_CKPT_ERR_IO" etc. for a status code. */
const char* ionet_ckpt_status_name(int status);

/* --- Writing a set ------------------------------------------------------------------------ */

/* Starts set `step` (>= 0, the same on every rank): removes stale step-*.tmp directories and
 * creates step-<step>.tmp/. Collective. */
int ionet_ckpt_begin(ionet_ckpt_t* h, int64_t step);

/* Writes dataset `name` ('/' creates groups) of ndims dims (0: a scalar) straight from data into
 * this rank's file. Local. A failure here makes the following commit fail on every rank. */
int ionet_ckpt_write(ionet_ckpt_t* h, const char* name, ionet_ckpt_dtype dtype, int ndims,
                     const uint64_t* dims, const void* data);

/* Stores a user metadata string as an attribute of this rank's file. Local. The keys "step",
 * "rank" and "nranks" are reserved. */
int ionet_ckpt_set_meta(ionet_ckpt_t* h, const char* key, const char* value);

/* Commits the set: closes and fsyncs every rank's file, agrees that all ranks succeeded, writes
 * and fsyncs MANIFEST, renames step-N.tmp to step-N, fsyncs the directory, points `latest` at it
 * and prunes to `keep` sets. Collective: call it on every rank, also after a failed write; then
 * it fails on every rank and no step-N appears. When it returns OK on any rank the set is
 * durable. */
int ionet_ckpt_commit(ionet_ckpt_t* h);

/* Drops this rank's uncommitted set (local; the tmp directory goes at the next begin). */
int ionet_ckpt_abort(ionet_ckpt_t* h);

/* --- Restoring ---------------------------------------------------------------------------- */

/* Called once per skipped set with a line such as
 * "step-30: rank-1.h5 checksum mismatch (manifest a1b2..., file c3d4...)". The default prints
 * each line to stderr on rank 0; cb NULL silences it. The list stays available below. */
typedef void (*ionet_ckpt_skip_fn)(const char* line, void* user);
void ionet_ckpt_set_skip_callback(ionet_ckpt_t* h, ionet_ckpt_skip_fn cb, void* user);

/* Chooses the set to restore: $IONET_RESUME_FROM if it verifies, else the newest set (by step
 * number) whose MANIFEST verifies and whose files all exist with the recorded size and checksum;
 * then opens this rank's rank-<r>.h5. Collective. *step (may be NULL) receives its step.
 * IONET_CKPT_ERR_NOT_FOUND when there is no valid set (a first run). */
int ionet_ckpt_restore(ionet_ckpt_t* h, int64_t* step);

/* The sets skipped by the last restore, one line each. */
int ionet_ckpt_skipped_count(const ionet_ckpt_t* h);
const char* ionet_ckpt_skipped(const ionet_ckpt_t* h, int i); /* NULL when i is out of range */

/* Directory of the restored set; NULL before a successful restore. */
const char* ionet_ckpt_restored_path(const ionet_ckpt_t* h);

/* Type and shape of dataset `name` of the restored set: *ndims dims are written to dims (at
 * most max_dims of them; IONET_CKPT_ERR_ARG when the dataset has more). dtype may be NULL. */
int ionet_ckpt_shape(ionet_ckpt_t* h, const char* name, ionet_ckpt_dtype* dtype, int* ndims,
                     uint64_t* dims, int max_dims);

/* Reads dataset `name` into buf (buf_bytes >= its size); dtype must be the stored one. */
int ionet_ckpt_read(ionet_ckpt_t* h, const char* name, ionet_ckpt_dtype dtype, void* buf,
                    uint64_t buf_bytes);

/* Metadata string `key` of the restored set (this rank's file); *value stays valid until the
 * next call on h. */
int ionet_ckpt_get_meta(ionet_ckpt_t* h, const char* key, const char** value);

#ifdef __cplusplus
}
#endif

#endif /* IONET_CKPT_H */
