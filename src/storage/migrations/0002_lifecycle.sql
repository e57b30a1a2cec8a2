ALTER TABLE "dag_runs" RENAME COLUMN "executor_id" TO "lease_owner";--> statement-breakpoint
ALTER TABLE "dag_step_runs" DROP CONSTRAINT "dag_step_runs_run_id_step_key_key";--> statement-breakpoint
ALTER TABLE "dag_runs" DROP CONSTRAINT "dag_runs_lease_iff_running";--> statement-breakpoint
ALTER TABLE "dag_runs" DROP CONSTRAINT "dag_runs_status_check";--> statement-breakpoint
ALTER TABLE "dag_runs" DROP CONSTRAINT "dag_runs_ended_at_iff_terminal";--> statement-breakpoint
ALTER TABLE "dag_runs" ADD COLUMN "attested_seq" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "dag_runs" ADD COLUMN "cancel_reason" text;--> statement-breakpoint
ALTER TABLE "dag_step_runs" ADD COLUMN "due_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "dag_step_runs" ADD CONSTRAINT "dag_step_runs_run_id_step_key_attempt_key" UNIQUE("run_id","step_key","attempt");--> statement-breakpoint
ALTER TABLE "dag_runs" ADD CONSTRAINT "dag_runs_lease_pair" CHECK (("dag_runs"."lease_owner" IS NULL) = ("dag_runs"."lease_expires_at" IS NULL));--> statement-breakpoint
ALTER TABLE "dag_runs" ADD CONSTRAINT "dag_runs_running_has_lease" CHECK ("dag_runs"."status" <> 'running' OR "dag_runs"."lease_owner" IS NOT NULL);--> statement-breakpoint
ALTER TABLE "dag_runs" ADD CONSTRAINT "dag_runs_lease_only_running_or_cancelled" CHECK ("dag_runs"."lease_owner" IS NULL OR "dag_runs"."status" IN ('running', 'cancelled'));--> statement-breakpoint
ALTER TABLE "dag_runs" ADD CONSTRAINT "dag_runs_cancel_reason_only_on_cancelled" CHECK ("dag_runs"."cancel_reason" IS NULL OR "dag_runs"."status" = 'cancelled');--> statement-breakpoint
ALTER TABLE "dag_runs" ADD CONSTRAINT "dag_runs_attested_seq_check" CHECK ("dag_runs"."attested_seq" >= 0);--> statement-breakpoint
ALTER TABLE "dag_runs" ADD CONSTRAINT "dag_runs_status_check" CHECK ("dag_runs"."status" IN ('pending', 'running', 'waiting', 'success', 'error', 'cancelled'));--> statement-breakpoint
ALTER TABLE "dag_runs" ADD CONSTRAINT "dag_runs_ended_at_iff_terminal" CHECK (("dag_runs"."ended_at" IS NOT NULL) = ("dag_runs"."status" IN ('success', 'error', 'cancelled')));--> statement-breakpoint
ALTER TABLE "dag_step_runs" ADD CONSTRAINT "dag_step_runs_due_at_after_start" CHECK ("dag_step_runs"."due_at" IS NULL OR "dag_step_runs"."due_at" >= "dag_step_runs"."started_at");