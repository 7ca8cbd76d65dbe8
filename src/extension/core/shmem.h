/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  rillflow's shared memory: one slot per database worker (its latch, its
 *	  state and counters), the backends waiting in wait_for_projection, the
 *	  databases whose workers must stay away for a moment (DROP DATABASE), and
 *	  the wake-ups other parts of the extension send at commit.
 *
 *	  Everything here is a no-op when the library was not preloaded: then
 *	  there is no shared memory and no worker to wake.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RILLFLOW_SHMEM_H
#define RILLFLOW_SHMEM_H

#include "postgres.h"

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "storage/lwlock.h"
#include "storage/spin.h"

/*
 * Called once per transaction that appended events (events/append.c): at commit it
 * sets the latch of this database's worker, which then ticks the sequencer.
 */
extern void rf_note_append(void);

/*
 * Called by projection_commit: at commit it wakes every backend of this
 * database waiting in rillflow.wait_for_projection.
 */
extern void rf_note_checkpoint_advance(void);

/*
 * Called by a tick that gave positions (events/sequencer.c): at commit it
 * wakes every backend of this database waiting for the log (reads that wait
 * for their own writes, events/log_sync.c).
 */
extern void rf_note_log_advance(void);

/*
 * Ticks that commit without waiting for their WAL flush (events/sequencer.c).
 * rf_note_async_tick, called by a tick that gave positions before it
 * commits, returns whether it may commit asynchronously: only with the
 * library preloaded (the shared memory below) and no synchronous standby
 * named. It is then counted as committing until its commit or abort; at
 * commit the end of its commit record becomes the newest tick LSN.
 *
 * rf_log_make_durable, called by a reader after the statement that read
 * positions and before it returns them: flushes the WAL up to the newest
 * tick LSN, or up to everything inserted when a tick is between its stamps
 * and the end of its commit (it may be visible already). So no reader hands
 * out a position that a crash could take back.
 */
extern bool rf_note_async_tick(void);
extern void rf_log_make_durable(void);

/* ---- internals shared by worker/, projections/wait.c, utility.c and shmem.c ---- */

/* What a database worker slot is doing (RfDbSlot.state). */
typedef enum RfSlotState
{
	RF_SLOT_FREE = 0,			/* unused */
	RF_SLOT_REGISTERED,			/* launcher registered a worker for it */
	RF_SLOT_RUNNING,			/* the worker is connected and working */
	RF_SLOT_NO_EXTENSION,		/* the worker found no extension and left */
	RF_SLOT_DISABLED,			/* the worker left: rillflow.worker_enabled = off */
	RF_SLOT_ROTATED				/* the worker left so that a waiting database
								 * gets the slot (worker_launcher.c) */
} RfSlotState;

typedef struct RfDbSlot
{
	Oid			dboid;			/* InvalidOid when free */
	uint32		generation;		/* bumped each time the slot is handed out */
	RfSlotState state;
	pid_t		pid;			/* the worker's pid, 0 when none runs */
	int			procno;			/* its PGPROC number: the latch to set */
	uint64		ext_counter_seen;	/* RfShared.ext_created before its
									 * extension check */
	TimestampTz started_at;
	TimestampTz last_pass_at;
	int64		passes;
	int64		events_sequenced;
	int64		events_projected;
	int64		errors;
	bool		projecting;		/* inside a projection batch: readers that
								 * need a tick start a ticker instead of
								 * waiting for this worker (a hint) */
	bool		yield_requested;	/* the launcher wants the slot for a
									 * waiting database: leave after this
									 * pass */
	bool		coalescing;		/* pausing before its next tick
								 * (rillflow.tick_coalesce): appends that
								 * commit meanwhile need not wake it */
	bool		tick_wanted;	/* someone waits for a tick: the pause ends
								 * at once */
} RfDbSlot;

/*
 * The databases known to have the extension (a worker found it there, or
 * CREATE EXTENSION committed there), kept by the launcher for rotation and
 * shown by worker_status. When there are more of them than worker slots,
 * the ones without a slot wait, and the launcher gives each its turn.
 */
#define RF_MAX_KNOWN_DBS 512

typedef struct RfKnownDb
{
	Oid			dboid;			/* InvalidOid when the entry is free */
	bool		waiting;		/* no slot now: waits for its turn */
	TimestampTz waiting_since;	/* when it started waiting, 0 when not */
	TimestampTz last_served_at; /* the last time a worker ran there */
} RfKnownDb;

/* The pause table: databases a DDL command needs free of workers. */
#define RF_MAX_PAUSED 32

typedef struct RfShared
{
	LWLock	   *lock;
	uint64		epoch;			/* differs after every shared memory reset */
	pid_t		launcher_pid;
	int			launcher_procno;
	uint64		ext_created;	/* +1 at each commit of CREATE EXTENSION */
	Oid			paused[RF_MAX_PAUSED];
	int			paused_refs[RF_MAX_PAUSED];
	int			nloads;			/* entries of rf_loads in use */
	bool		slots_short;	/* the launcher's last registration found
								 * every max_worker_processes slot taken */
	RfKnownDb	known[RF_MAX_KNOWN_DBS];
	slock_t		tick_mutex;		/* protects the two below */
	int			ticks_committing;	/* asynchronous ticks between their
									 * stamps and the end of their commit */
	XLogRecPtr	tick_lsn;		/* end of the newest committed asynchronous
								 * tick's commit record */
	int			nslots;
	RfDbSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} RfShared;

/* What the launcher hands a database worker in bgw_extra. */
typedef struct RfWorkerArgs
{
	uint64		epoch;
	uint32		generation;
	int			slot;
	Oid			dboid;
	Oid			roleoid;
} RfWorkerArgs;

extern RfShared *rf_shared;
extern Oid *rf_waiters;			/* per PGPROC number: the database waited
								 * in, or InvalidOid */

/*
 * The stores a backend is loading (events/store_load.c): RF_LOADS_PER_BACKEND
 * entries per PGPROC number, free when dboid is InvalidOid; store is the
 * store's schema, or InvalidOid for every store of the database (when a
 * backend loads more stores than it has entries). hold is a set of
 * RF_HOLD_* flags (store_load.h).
 */
#define RF_LOADS_PER_BACKEND 8
typedef struct RfLoad
{
	Oid			dboid;
	Oid			store;
	uint32		hold;
} RfLoad;
extern RfLoad *rf_loads;

extern void rf_shmem_init(void);	/* from _PG_init, while preloading */
extern void rf_wake_db_worker(Oid dboid);
extern void rf_wake_db_worker_for_append(Oid dboid);
extern void rf_wake_launcher(void);
extern bool rf_database_paused(Oid dboid);
extern bool rf_pause_database(Oid dboid);
extern void rf_unpause_database(Oid dboid);
extern void rf_note_extension_created(void);
extern void rf_note_known_database(Oid dboid);
extern void rf_set_waiting(Oid dboid);
extern bool rf_db_worker_serves(Oid dboid, bool *projecting);

#endif							/* RILLFLOW_SHMEM_H */
