ALTER TABLE "dag_step_runs" DROP CONSTRAINT "dag_step_runs_run_id_step_key_attempt_key";--> statement-breakpoint
ALTER TABLE "dag_step_runs" ADD COLUMN "item_index" integer;--> statement-breakpoint
ALTER TABLE "dag_step_runs" ADD COLUMN "item" jsonb;--> statement-breakpoint
ALTER TABLE "manifest_steps" ADD COLUMN "for_each" text;--> statement-breakpoint
CREATE UNIQUE INDEX "dag_step_runs_run_id_step_key_attempt_key" ON "dag_step_runs" USING btree ("run_id","step_key","attempt") WHERE "dag_step_runs"."item_index" IS NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "dag_step_runs_run_id_step_key_item_index_attempt_key" ON "dag_step_runs" USING btree ("run_id","step_key","item_index","attempt") WHERE "dag_step_runs"."item_index" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "dag_step_runs" ADD CONSTRAINT "dag_step_runs_item_index_check" CHECK ("dag_step_runs"."item_index" >= 0);--> statement-breakpoint
ALTER TABLE "dag_step_runs" ADD CONSTRAINT "dag_step_runs_item_iff_item_index" CHECK (("dag_step_runs"."item_index" IS NULL) = ("dag_step_runs"."item" IS NULL));