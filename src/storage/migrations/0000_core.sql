CREATE TABLE "dag_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"manifest_id" uuid NOT NULL,
	"status" text NOT NULL,
	"inputs" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"error" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"executor_id" text,
	"lease_expires_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dag_runs_status_check" CHECK ("dag_runs"."status" IN ('pending', 'running', 'success', 'error')),
	CONSTRAINT "dag_runs_ended_at_iff_terminal" CHECK (("dag_runs"."ended_at" IS NOT NULL) = ("dag_runs"."status" IN ('success', 'error'))),
	CONSTRAINT "dag_runs_lease_iff_running" CHECK (("dag_runs"."status" = 'running') = ("dag_runs"."executor_id" IS NOT NULL AND "dag_runs"."lease_expires_at" IS NOT NULL)),
	CONSTRAINT "dag_runs_error_only_on_error" CHECK ("dag_runs"."error" IS NULL OR "dag_runs"."status" = 'error')
);
--> statement-breakpoint
CREATE TABLE "dag_step_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"run_id" uuid NOT NULL,
	"manifest_step_id" uuid NOT NULL,
	"step_key" text NOT NULL,
	"status" text NOT NULL,
	"attempt" integer DEFAULT 1 NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"output" jsonb,
	"error" jsonb,
	CONSTRAINT "dag_step_runs_run_id_step_key_key" UNIQUE("run_id","step_key"),
	CONSTRAINT "dag_step_runs_status_check" CHECK ("dag_step_runs"."status" IN ('RUNNING', 'SUCCESS', 'FAIL')),
	CONSTRAINT "dag_step_runs_ended_at_iff_terminal" CHECK (("dag_step_runs"."ended_at" IS NOT NULL) = ("dag_step_runs"."status" IN ('SUCCESS', 'FAIL'))),
	CONSTRAINT "dag_step_runs_output_only_on_success" CHECK ("dag_step_runs"."output" IS NULL OR "dag_step_runs"."status" = 'SUCCESS'),
	CONSTRAINT "dag_step_runs_error_only_on_fail" CHECK ("dag_step_runs"."error" IS NULL OR "dag_step_runs"."status" = 'FAIL'),
	CONSTRAINT "dag_step_runs_attempt_check" CHECK ("dag_step_runs"."attempt" >= 1)
);
--> statement-breakpoint
CREATE TABLE "llm_call_artifacts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"step_run_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"provider" text NOT NULL,
	"model" text NOT NULL,
	"request" jsonb NOT NULL,
	"response" jsonb,
	"usage" jsonb,
	"latency_ms" integer NOT NULL,
	"tries" integer DEFAULT 1 NOT NULL,
	"error" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "llm_call_artifacts_step_run_id_attempt_key" UNIQUE("step_run_id","attempt")
);
--> statement-breakpoint
CREATE TABLE "manifest_steps" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"manifest_id" uuid NOT NULL,
	"key" text NOT NULL,
	"position" integer NOT NULL,
	"depends_on" text[] DEFAULT '{}'::text[] NOT NULL,
	"prompt" text NOT NULL,
	"model" text,
	"params" jsonb,
	"output" jsonb,
	CONSTRAINT "manifest_steps_manifest_id_key_key" UNIQUE("manifest_id","key"),
	CONSTRAINT "manifest_steps_manifest_id_position_key" UNIQUE("manifest_id","position")
);
--> statement-breakpoint
CREATE TABLE "manifests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"description" text,
	"document" jsonb NOT NULL,
	"content_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "manifests_name_version_key" UNIQUE("name","version"),
	CONSTRAINT "manifests_version_check" CHECK ("manifests"."version" >= 1)
);
--> statement-breakpoint
CREATE TABLE "parsed_output_artifacts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"step_run_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"format" text NOT NULL,
	"value" jsonb,
	"error" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "parsed_output_artifacts_step_run_id_attempt_key" UNIQUE("step_run_id","attempt"),
	CONSTRAINT "parsed_output_artifacts_format_check" CHECK ("parsed_output_artifacts"."format" IN ('text', 'json')),
	CONSTRAINT "parsed_output_artifacts_value_xor_error" CHECK (("parsed_output_artifacts"."value" IS NULL) <> ("parsed_output_artifacts"."error" IS NULL))
);
--> statement-breakpoint
CREATE TABLE "prompt_artifacts" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"step_run_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"template" text NOT NULL,
	"values" jsonb NOT NULL,
	"messages" jsonb,
	"error" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "prompt_artifacts_step_run_id_attempt_key" UNIQUE("step_run_id","attempt"),
	CONSTRAINT "prompt_artifacts_messages_xor_error" CHECK (("prompt_artifacts"."messages" IS NULL) <> ("prompt_artifacts"."error" IS NULL))
);
--> statement-breakpoint
ALTER TABLE "dag_runs" ADD CONSTRAINT "dag_runs_manifest_id_manifests_id_fk" FOREIGN KEY ("manifest_id") REFERENCES "public"."manifests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dag_step_runs" ADD CONSTRAINT "dag_step_runs_run_id_dag_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."dag_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dag_step_runs" ADD CONSTRAINT "dag_step_runs_manifest_step_id_manifest_steps_id_fk" FOREIGN KEY ("manifest_step_id") REFERENCES "public"."manifest_steps"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "llm_call_artifacts" ADD CONSTRAINT "llm_call_artifacts_step_run_id_dag_step_runs_id_fk" FOREIGN KEY ("step_run_id") REFERENCES "public"."dag_step_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "manifest_steps" ADD CONSTRAINT "manifest_steps_manifest_id_manifests_id_fk" FOREIGN KEY ("manifest_id") REFERENCES "public"."manifests"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "parsed_output_artifacts" ADD CONSTRAINT "parsed_output_artifacts_step_run_id_dag_step_runs_id_fk" FOREIGN KEY ("step_run_id") REFERENCES "public"."dag_step_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "prompt_artifacts" ADD CONSTRAINT "prompt_artifacts_step_run_id_dag_step_runs_id_fk" FOREIGN KEY ("step_run_id") REFERENCES "public"."dag_step_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "dag_runs_status_created_at_idx" ON "dag_runs" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "dag_runs_manifest_id_idx" ON "dag_runs" USING btree ("manifest_id");