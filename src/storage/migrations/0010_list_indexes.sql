DROP INDEX "audit_events_at_idx";--> statement-breakpoint
DROP INDEX "audit_events_actor_at_idx";--> statement-breakpoint
DROP INDEX "dag_runs_status_created_at_idx";--> statement-breakpoint
DROP INDEX "dag_runs_manifest_id_idx";--> statement-breakpoint
CREATE INDEX "audit_events_at_id_idx" ON "audit_events" USING btree ("at","id");--> statement-breakpoint
CREATE INDEX "audit_events_actor_at_id_idx" ON "audit_events" USING btree ("actor","at","id");--> statement-breakpoint
CREATE INDEX "dag_runs_created_at_id_idx" ON "dag_runs" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "dag_runs_status_created_at_id_idx" ON "dag_runs" USING btree ("status","created_at","id");--> statement-breakpoint
CREATE INDEX "dag_runs_manifest_id_created_at_id_idx" ON "dag_runs" USING btree ("manifest_id","created_at","id");--> statement-breakpoint
CREATE INDEX "dag_runs_waiting_attested_idx" ON "dag_runs" USING btree ("created_at") WHERE "dag_runs"."status" = 'waiting' AND "dag_runs"."attested_seq" > 0;--> statement-breakpoint
CREATE INDEX "dag_step_runs_waiting_due_at_idx" ON "dag_step_runs" USING btree ("due_at") WHERE "dag_step_runs"."status" = 'WAITING_FOR_ATTESTATION' AND "dag_step_runs"."due_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "dag_step_runs_waiting_run_id_idx" ON "dag_step_runs" USING btree ("run_id") WHERE "dag_step_runs"."status" = 'WAITING_FOR_ATTESTATION';