// Package db stores weft's workflows, executions and circuit breakers with
// bun: in an SQLite file by default (pure Go, nothing to install), or in
// PostgreSQL, which several weft instances can share. It implements
// core.Store.
//
// Writes go through one committer per process that batches the writes of
// concurrent executions into few transactions (group commit), so durable
// writes — SQLite with synchronous=FULL survives power loss — do not cap
// throughput.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/migrate"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, see docs/performance.md

	"github.com/weftworks/weft/db/migrations"
)

// Options configure Open. The zero value works.
type Options struct {
	// Synchronous is SQLite's synchronous mode: FULL (default: survives power
	// loss) or NORMAL (survives a process crash; faster).
	Synchronous string
	// MaxBatch caps the writes committed in one transaction; default 256.
	MaxBatch int
	// NoMigrate opens without applying migrations (weft migrate applies them).
	NoMigrate bool
}

// DB is an open weft database.
type DB struct {
	bun      *bun.DB
	dsn      string
	pg       bool
	batch    *committer
	progress heldBack
	held     held
	failed   sync.Map // execution id → the error of an async write that failed (see awaited)
}

// ErrNewerSchema is returned when the database was migrated by a newer weft:
// this version does not know its schema and refuses to touch it.
var ErrNewerSchema = errors.New("the database was migrated by a newer version of weft")

// IsPostgres reports whether a DSN names a PostgreSQL database.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens (and, unless told not to, migrates) the database named by dsn:
// a postgres:// URL, or the path of an SQLite file (created when missing).
// It fails with one clear error when the database cannot be reached or
// written, or was migrated by a newer weft.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	if dsn == "" {
		return nil, errors.New("no database: give an SQLite file path or a postgres:// URL")
	}
	d := &DB{dsn: dsn, pg: IsPostgres(dsn)}
	var err error
	if d.pg {
		err = d.openPostgres(ctx)
	} else {
		err = d.openSQLite(ctx, opts)
	}
	if err != nil {
		return nil, err
	}
	if !opts.NoMigrate {
		if _, err := d.Migrate(ctx); err != nil {
			_ = d.bun.Close()
			return nil, err
		}
	} else if err := d.checkSchema(ctx); err != nil {
		_ = d.bun.Close()
		return nil, err
	}
	maxBatch := opts.MaxBatch
	if maxBatch <= 0 {
		maxBatch = 256
	}
	d.batch = newCommitter(d.bun, d.pg, maxBatch)
	return d, nil
}

func (d *DB) openPostgres(ctx context.Context) error {
	sqldb, err := sql.Open("pgx", d.dsn)
	if err != nil {
		return fmt.Errorf("database %s: %w", redactDSN(d.dsn), err)
	}
	sqldb.SetMaxOpenConns(16)
	sqldb.SetMaxIdleConns(16)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqldb.PingContext(pctx); err != nil {
		_ = sqldb.Close()
		return fmt.Errorf("cannot reach database %s: %w", redactDSN(d.dsn), err)
	}
	d.bun = bun.NewDB(sqldb, pgdialect.New())
	return nil
}

func (d *DB) openSQLite(ctx context.Context, opts Options) error {
	path := strings.TrimPrefix(strings.TrimPrefix(d.dsn, "sqlite://"), "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if dir := filepath.Dir(path); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return fmt.Errorf("cannot open database %s: directory %s: %w", path, dir, err)
		}
	}
	sync := strings.ToUpper(opts.Synchronous)
	switch sync {
	case "":
		sync = "FULL"
	case "FULL", "NORMAL":
	default:
		return fmt.Errorf("synchronous must be FULL or NORMAL, not %q", opts.Synchronous)
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+sync+")")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	// A 2 MiB page cache per connection. The committer's writes touch the
	// right edge of each B-tree (new executions have increasing ids and
	// times): a few hundred KiB. Not bigger: at every commit SQLite scans
	// the page cache's hash table for pages past the end of the file (with
	// 64 MiB that scan was a tenth of the committer's CPU), and with 8 MiB
	// the caches were a sixth of weft serve's RSS under load. No
	// memory-mapped reads: the pages of a mapped file count in the
	// process's RSS, which then grew with the database (to 200 MiB in a
	// minute of make bench-e2e), and the request path no longer reads the
	// database — with mmap off, executions/s were the same within the noise
	// and the peak RSS half (docs/performance.md, "End to end").
	q.Add("_pragma", "cache_size(-2048)")
	q.Add("_pragma", "mmap_size(0)")
	q.Set("_txlock", "immediate") // take the write lock at BEGIN: no "database is locked" on upgrade
	sqldb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return fmt.Errorf("cannot open database %s: %w", path, err)
	}
	sqldb.SetMaxOpenConns(8)
	sqldb.SetMaxIdleConns(8)
	sqldb.SetConnMaxLifetime(0)
	// Prove the file is writable now, not at the first execution. The probe
	// table's name is this opener's own: processes opening the same file at
	// once must not drop each other's.
	probe := "weft_probe_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := sqldb.ExecContext(ctx, `CREATE TABLE `+probe+` (x INTEGER); DROP TABLE `+probe); err != nil {
		_ = sqldb.Close()
		return fmt.Errorf("cannot write database %s: %w", path, err)
	}
	d.bun = bun.NewDB(sqldb, sqlitedialect.New())
	return nil
}

// redactDSN hides a password in a DSN for messages.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

func (d *DB) migrator() *migrate.Migrator {
	return migrate.NewMigrator(d.bun, migrations.Migrations, migrate.WithMarkAppliedOnSuccess(true))
}

// Migrate applies the migrations this weft knows and has not applied yet; it
// returns their names. A database migrated by a newer weft is refused.
func (d *DB) Migrate(ctx context.Context) ([]string, error) {
	m := d.migrator()
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("prepare migrations: %w", err)
	}
	// Several instances starting together all migrate: the others wait for
	// the one holding the lock.
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		err := m.Lock(ctx)
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "already locked") {
			return nil, fmt.Errorf("lock migrations: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock migrations: %w", ctx.Err())
		case <-time.After(wait):
		}
	}
	defer func() { _ = m.Unlock(context.WithoutCancel(ctx)) }()
	if err := d.checkSchema(ctx); err != nil {
		return nil, err
	}
	group, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var names []string
	for _, mig := range group.Migrations {
		names = append(names, mig.Name)
	}
	return names, nil
}

// checkSchema refuses a database with migrations this weft does not know.
func (d *DB) checkSchema(ctx context.Context) error {
	m := d.migrator()
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	applied, err := m.AppliedMigrations(ctx)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	known := map[string]bool{}
	for _, mig := range migrations.Migrations.Sorted() {
		known[mig.Name] = true
	}
	for _, mig := range applied {
		if !known[mig.Name] {
			return fmt.Errorf("%w (it has migration %s, unknown here): upgrade weft; it refuses to change a schema it does not know", ErrNewerSchema, mig.Name)
		}
	}
	return nil
}

// Pending returns the names of the migrations not applied yet.
func (d *DB) Pending(ctx context.Context) ([]string, error) {
	m := d.migrator()
	if err := m.Init(ctx); err != nil {
		return nil, err
	}
	ms, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, mig := range ms.Unapplied() {
		names = append(names, mig.Name)
	}
	return names, nil
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error { return d.bun.PingContext(ctx) }

// Dialect names the database: "sqlite" or "pg".
func (d *DB) Dialect() string {
	if d.bun.Dialect().Name() == dialect.PG {
		return "pg"
	}
	return "sqlite"
}

// Bun returns the bun handle, for tests and tools.
func (d *DB) Bun() *bun.DB { return d.bun }

// Close stops the committer and closes the database.
func (d *DB) Close() error {
	if d.batch != nil {
		d.progress.flushAll()
		d.flushAllHeld()
		d.batch.close()
	}
	return d.bun.Close()
}
