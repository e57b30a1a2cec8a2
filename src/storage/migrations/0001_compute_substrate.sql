CREATE TABLE "compute_artifacts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"attestation_id" uuid NOT NULL,
	"name" text NOT NULL,
	"uri" text NOT NULL,
	"sha256" text NOT NULL,
	"bytes" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "compute_artifacts_attestation_id_name_key" UNIQUE("attestation_id","name"),
	CONSTRAINT "compute_artifacts_sha256_check" CHECK ("compute_artifacts"."sha256" ~ '^[0-9a-f]{64}$'),
	CONSTRAINT "compute_artifacts_bytes_check" CHECK ("compute_artifacts"."bytes" >= 0)
);
--> statement-breakpoint
CREATE TABLE "compute_attestations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"step_run_id" uuid NOT NULL,
	"attested_by" text NOT NULL,
	"attested_at" timestamp with time zone DEFAULT now() NOT NULL,
	"outcome" text NOT NULL,
	"notes" text,
	"contract_snapshot" jsonb NOT NULL,
	CONSTRAINT "compute_attestations_step_run_id_key" UNIQUE("step_run_id"),
	CONSTRAINT "compute_attestations_outcome_check" CHECK ("compute_attestations"."outcome" IN ('SUCCESS', 'FAIL'))
);
--> statement-breakpoint
ALTER TABLE "dag_runs" DROP CONSTRAINT "dag_runs_status_check";--> statement-breakpoint
ALTER TABLE "dag_step_runs" DROP CONSTRAINT "dag_step_runs_status_check";--> statement-breakpoint
ALTER TABLE "dag_step_runs" DROP CONSTRAINT "dag_step_runs_ended_at_iff_terminal";--> statement-breakpoint
ALTER TABLE "dag_step_runs" DROP CONSTRAINT "dag_step_runs_error_only_on_fail";--> statement-breakpoint
ALTER TABLE "manifest_steps" ALTER COLUMN "prompt" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "manifest_steps" ADD COLUMN "step_type" text;--> statement-breakpoint
ALTER TABLE "manifest_steps" ADD COLUMN "compute_contract" jsonb;--> statement-breakpoint
ALTER TABLE "compute_artifacts" ADD CONSTRAINT "compute_artifacts_attestation_id_compute_attestations_id_fk" FOREIGN KEY ("attestation_id") REFERENCES "public"."compute_attestations"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "compute_attestations" ADD CONSTRAINT "compute_attestations_step_run_id_dag_step_runs_id_fk" FOREIGN KEY ("step_run_id") REFERENCES "public"."dag_step_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "dag_step_runs_waiting_idx" ON "dag_step_runs" USING btree ("started_at") WHERE "dag_step_runs"."status" = 'WAITING_FOR_ATTESTATION';--> statement-breakpoint
ALTER TABLE "dag_runs" ADD CONSTRAINT "dag_runs_status_check" CHECK ("dag_runs"."status" IN ('pending', 'running', 'waiting', 'success', 'error'));--> statement-breakpoint
ALTER TABLE "dag_step_runs" ADD CONSTRAINT "dag_step_runs_status_check" CHECK ("dag_step_runs"."status" IN ('RUNNING', 'SUCCESS', 'FAIL', 'WAITING_FOR_ATTESTATION', 'CANCELLED'));--> statement-breakpoint
ALTER TABLE "dag_step_runs" ADD CONSTRAINT "dag_step_runs_ended_at_iff_terminal" CHECK (("dag_step_runs"."ended_at" IS NOT NULL) = ("dag_step_runs"."status" IN ('SUCCESS', 'FAIL', 'CANCELLED')));--> statement-breakpoint
ALTER TABLE "dag_step_runs" ADD CONSTRAINT "dag_step_runs_error_only_on_fail" CHECK ("dag_step_runs"."error" IS NULL OR "dag_step_runs"."status" IN ('FAIL', 'CANCELLED'));--> statement-breakpoint
ALTER TABLE "manifest_steps" ADD CONSTRAINT "manifest_steps_step_type_check" CHECK ("manifest_steps"."step_type" IS NULL OR "manifest_steps"."step_type" IN ('task', 'compute'));--> statement-breakpoint
ALTER TABLE "manifest_steps" ADD CONSTRAINT "manifest_steps_contract_iff_compute" CHECK (("manifest_steps"."compute_contract" IS NOT NULL) = ("manifest_steps"."step_type" IS NOT DISTINCT FROM 'compute'));--> statement-breakpoint
ALTER TABLE "manifest_steps" ADD CONSTRAINT "manifest_steps_prompt_on_task" CHECK ("manifest_steps"."prompt" IS NOT NULL OR "manifest_steps"."step_type" IS NOT DISTINCT FROM 'compute');