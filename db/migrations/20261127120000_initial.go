package migrations

import (
	"context"

	"github.com/uptrace/bun"
)

// The first schema: every entity of the original design. Timestamps are
// BIGINT microseconds since the Unix epoch (UTC), so that both dialects
// compare and index them the same way; 0 means "not set".
func init() {
	Migrations.MustRegister(func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`CREATE TABLE workflows (
				id TEXT PRIMARY KEY,
				name TEXT NOT NULL,
				description TEXT NOT NULL DEFAULT '',
				category TEXT NOT NULL DEFAULT '',
				status TEXT NOT NULL DEFAULT 'DRAFT',
				version INTEGER NOT NULL DEFAULT 0,
				definition JSON,
				tags JSON,
				created_at BIGINT NOT NULL,
				updated_at BIGINT NOT NULL,
				deleted_at BIGINT NOT NULL DEFAULT 0
			)`,
			`CREATE INDEX workflows_status_idx ON workflows (status, updated_at)`,
			`CREATE INDEX workflows_category_idx ON workflows (category, updated_at)`,
			`CREATE INDEX workflows_name_idx ON workflows (name)`,

			`CREATE TABLE workflow_versions (
				workflow_id TEXT NOT NULL,
				version INTEGER NOT NULL,
				definition JSON NOT NULL,
				hash TEXT NOT NULL,
				created_at BIGINT NOT NULL,
				PRIMARY KEY (workflow_id, version)
			)`,
			`CREATE INDEX workflow_versions_hash_idx ON workflow_versions (hash)`,

			`CREATE TABLE workflow_executions (
				id TEXT PRIMARY KEY,
				workflow_id TEXT NOT NULL,
				workflow_version INTEGER NOT NULL,
				workflow_name TEXT NOT NULL DEFAULT '',
				status TEXT NOT NULL,
				input JSON,
				output JSON,
				error JSON,
				failed_step TEXT NOT NULL DEFAULT '',
				idempotency_key TEXT,
				created_at BIGINT NOT NULL,
				started_at BIGINT NOT NULL DEFAULT 0,
				finished_at BIGINT NOT NULL DEFAULT 0,
				duration_ms BIGINT NOT NULL DEFAULT 0,
				wake_at BIGINT NOT NULL DEFAULT 0,
				lease_owner TEXT NOT NULL DEFAULT '',
				lease_token BIGINT NOT NULL DEFAULT 0,
				lease_until BIGINT NOT NULL DEFAULT 0,
				updated_at BIGINT NOT NULL
			) CLUSTERED`,
			`CREATE INDEX workflow_executions_workflow_idx ON workflow_executions (workflow_id, created_at)`,
			`CREATE INDEX workflow_executions_status_idx ON workflow_executions (status, created_at)`,
			`CREATE INDEX workflow_executions_created_idx ON workflow_executions (created_at)`,
			`CREATE INDEX workflow_executions_claim_idx ON workflow_executions (status, lease_until, wake_at)`,
			`CREATE UNIQUE INDEX workflow_executions_idempotency_idx ON workflow_executions (workflow_id, idempotency_key)`,

			`CREATE TABLE step_executions (
				execution_id TEXT NOT NULL REFERENCES workflow_executions (id) ON DELETE CASCADE,
				step_key TEXT NOT NULL,
				attempt INTEGER NOT NULL,
				step_id TEXT NOT NULL DEFAULT '',
				step_type TEXT NOT NULL DEFAULT '',
				parent_key TEXT NOT NULL DEFAULT '',
				item_index INTEGER,
				fallback_for TEXT NOT NULL DEFAULT '',
				status TEXT NOT NULL,
				step_status TEXT NOT NULL,
				input JSON,
				output JSON,
				error JSON,
				step_error JSON,
				step_started_at BIGINT NOT NULL DEFAULT 0,
				step_finished_at BIGINT NOT NULL DEFAULT 0,
				step_duration_ms BIGINT NOT NULL DEFAULT 0,
				started_at BIGINT NOT NULL DEFAULT 0,
				finished_at BIGINT NOT NULL DEFAULT 0,
				duration_ms BIGINT NOT NULL DEFAULT 0,
				retry_delay_ms BIGINT NOT NULL DEFAULT 0,
				wake_at BIGINT NOT NULL DEFAULT 0,
				result JSON,
				PRIMARY KEY (execution_id, step_key, attempt)
			) CLUSTERED`,

			`CREATE TABLE circuit_breakers (
				service_id TEXT PRIMARY KEY,
				state TEXT NOT NULL,
				config JSON NOT NULL,
				config_source TEXT NOT NULL,
				consecutive_failures INTEGER NOT NULL DEFAULT 0,
				half_open_calls INTEGER NOT NULL DEFAULT 0,
				half_open_successes INTEGER NOT NULL DEFAULT 0,
				opened_at BIGINT NOT NULL DEFAULT 0,
				state_changed_at BIGINT NOT NULL DEFAULT 0,
				last_failure_at BIGINT NOT NULL DEFAULT 0,
				last_success_at BIGINT NOT NULL DEFAULT 0,
				total_calls BIGINT NOT NULL DEFAULT 0,
				total_successes BIGINT NOT NULL DEFAULT 0,
				total_failures BIGINT NOT NULL DEFAULT 0,
				total_rejections BIGINT NOT NULL DEFAULT 0,
				generation BIGINT NOT NULL DEFAULT 0,
				updated_at BIGINT NOT NULL
			)`,

			`CREATE TABLE webhooks (
				id TEXT PRIMARY KEY,
				workflow_id TEXT NOT NULL DEFAULT '',
				url TEXT NOT NULL,
				method TEXT NOT NULL DEFAULT 'POST',
				events JSON,
				secret_name TEXT NOT NULL DEFAULT '',
				is_active BOOLEAN NOT NULL DEFAULT TRUE,
				created_at BIGINT NOT NULL,
				updated_at BIGINT NOT NULL
			)`,
			`CREATE INDEX webhooks_workflow_idx ON webhooks (workflow_id)`,

			`CREATE TABLE webhook_events (
				id TEXT PRIMARY KEY,
				webhook_id TEXT NOT NULL DEFAULT '',
				execution_id TEXT NOT NULL DEFAULT '',
				step_key TEXT NOT NULL DEFAULT '',
				event_type TEXT NOT NULL DEFAULT '',
				payload JSON,
				status TEXT NOT NULL,
				response_status INTEGER NOT NULL DEFAULT 0,
				attempts INTEGER NOT NULL DEFAULT 0,
				error JSON,
				created_at BIGINT NOT NULL,
				delivered_at BIGINT NOT NULL DEFAULT 0
			)`,
			`CREATE INDEX webhook_events_execution_idx ON webhook_events (execution_id, created_at)`,
			`CREATE INDEX webhook_events_webhook_idx ON webhook_events (webhook_id, created_at)`,

			`CREATE TABLE transformation_rules (
				id TEXT PRIMARY KEY,
				name TEXT NOT NULL UNIQUE,
				description TEXT NOT NULL DEFAULT '',
				language TEXT NOT NULL,
				source TEXT NOT NULL,
				config JSON,
				created_at BIGINT NOT NULL,
				updated_at BIGINT NOT NULL
			)`,

			`CREATE TABLE orchestration_metrics (
				workflow_id TEXT NOT NULL,
				bucket_start BIGINT NOT NULL,
				executions BIGINT NOT NULL DEFAULT 0,
				completed BIGINT NOT NULL DEFAULT 0,
				failed BIGINT NOT NULL DEFAULT 0,
				cancelled BIGINT NOT NULL DEFAULT 0,
				timed_out BIGINT NOT NULL DEFAULT 0,
				total_duration_ms BIGINT NOT NULL DEFAULT 0,
				max_duration_ms BIGINT NOT NULL DEFAULT 0,
				updated_at BIGINT NOT NULL,
				PRIMARY KEY (workflow_id, bucket_start)
			)`,

			`CREATE TABLE workflow_templates (
				id TEXT PRIMARY KEY,
				name TEXT NOT NULL UNIQUE,
				description TEXT NOT NULL DEFAULT '',
				category TEXT NOT NULL DEFAULT '',
				definition JSON NOT NULL,
				created_at BIGINT NOT NULL,
				updated_at BIGINT NOT NULL
			)`,
		)
	}, func(ctx context.Context, db *bun.DB) error {
		return execAll(ctx, db,
			`DROP TABLE workflow_templates`, `DROP TABLE orchestration_metrics`, `DROP TABLE transformation_rules`,
			`DROP TABLE webhook_events`, `DROP TABLE webhooks`, `DROP TABLE circuit_breakers`,
			`DROP TABLE step_executions`, `DROP TABLE workflow_executions`,
			`DROP TABLE workflow_versions`, `DROP TABLE workflows`)
	})
}
