DROP INDEX "run_events_run_id_id_idx";--> statement-breakpoint
-- custom:begin
-- tx_id is added with the constant 0 first (no rewrite of the table: the events already
-- recorded, all committed, sort before every new one, by id), then given its default, the
-- appending transaction's id, for every row inserted from now on.
ALTER TABLE "run_events" ADD COLUMN "tx_id" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "run_events" ALTER COLUMN "tx_id" SET DEFAULT (pg_current_xact_id()::text)::bigint;--> statement-breakpoint
-- custom:end
ALTER TABLE "run_events" ADD COLUMN "error_message" text;--> statement-breakpoint
CREATE INDEX "run_events_position_idx" ON "run_events" USING btree ("tx_id","id");--> statement-breakpoint
CREATE INDEX "run_events_run_position_idx" ON "run_events" USING btree ("run_id","tx_id","id");--> statement-breakpoint
CREATE INDEX "run_events_kind_position_idx" ON "run_events" USING btree ("kind","tx_id","id");
