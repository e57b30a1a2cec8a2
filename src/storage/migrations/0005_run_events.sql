CREATE TABLE "run_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "run_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"run_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"step_run_id" uuid,
	"step_key" text,
	"attempt" integer,
	"status" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "run_events_kind_check" CHECK ("run_events"."kind" IN ('run_started', 'step_started', 'step_succeeded', 'step_failed', 'step_waiting', 'step_attested', 'step_cancelled', 'run_waiting', 'run_succeeded', 'run_failed', 'run_cancelled', 'run_resumed', 'run_retried'))
);
--> statement-breakpoint
ALTER TABLE "run_events" ADD CONSTRAINT "run_events_run_id_dag_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."dag_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "run_events_run_id_id_idx" ON "run_events" USING btree ("run_id","id");--> statement-breakpoint
-- custom:begin
-- run_events is append-only (SPEC §12): the database refuses to change or remove an event,
-- except the cascade of a run that is itself removed.
CREATE FUNCTION "run_events_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM "dag_runs" WHERE "id" = OLD."run_id") THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'run_events is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;--> statement-breakpoint
CREATE TRIGGER "run_events_no_update_or_delete" BEFORE UPDATE OR DELETE ON "run_events"
  FOR EACH ROW EXECUTE FUNCTION "run_events_append_only"();--> statement-breakpoint
CREATE TRIGGER "run_events_no_truncate" BEFORE TRUNCATE ON "run_events"
  FOR EACH STATEMENT EXECUTE FUNCTION "run_events_append_only"();
-- custom:end
