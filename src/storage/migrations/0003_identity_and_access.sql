CREATE TABLE "api_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	"last_used_at" timestamp with time zone,
	CONSTRAINT "api_tokens_name_key" UNIQUE("name"),
	CONSTRAINT "api_tokens_token_hash_key" UNIQUE("token_hash"),
	CONSTRAINT "api_tokens_role_check" CHECK ("api_tokens"."role" IN ('viewer', 'operator', 'author', 'admin')),
	CONSTRAINT "api_tokens_token_hash_check" CHECK ("api_tokens"."token_hash" ~ '^[0-9a-f]{64}$')
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text,
	"token_id" uuid,
	"action" text NOT NULL,
	"target" text NOT NULL,
	"outcome" integer NOT NULL,
	"code" text,
	"request_id" text NOT NULL,
	"address" text,
	CONSTRAINT "audit_events_outcome_check" CHECK ("audit_events"."outcome" BETWEEN 100 AND 599)
);
--> statement-breakpoint
ALTER TABLE "compute_attestations" ADD COLUMN "token_id" uuid;--> statement-breakpoint
ALTER TABLE "compute_attestations" ADD COLUMN "attested_by_verified" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_token_id_api_tokens_id_fk" FOREIGN KEY ("token_id") REFERENCES "public"."api_tokens"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_events_at_idx" ON "audit_events" USING btree ("at");--> statement-breakpoint
CREATE INDEX "audit_events_actor_at_idx" ON "audit_events" USING btree ("actor","at");--> statement-breakpoint
ALTER TABLE "compute_attestations" ADD CONSTRAINT "compute_attestations_token_id_api_tokens_id_fk" FOREIGN KEY ("token_id") REFERENCES "public"."api_tokens"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "compute_attestations" ADD CONSTRAINT "compute_attestations_verified_iff_token" CHECK ("compute_attestations"."attested_by_verified" = ("compute_attestations"."token_id" IS NOT NULL));--> statement-breakpoint
-- custom:begin
-- audit_events is append-only (SPEC §10): the database itself refuses to change or remove a row.
CREATE FUNCTION "audit_events_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;--> statement-breakpoint
CREATE TRIGGER "audit_events_no_update_or_delete" BEFORE UPDATE OR DELETE ON "audit_events"
  FOR EACH ROW EXECUTE FUNCTION "audit_events_append_only"();--> statement-breakpoint
CREATE TRIGGER "audit_events_no_truncate" BEFORE TRUNCATE ON "audit_events"
  FOR EACH STATEMENT EXECUTE FUNCTION "audit_events_append_only"();
-- custom:end
