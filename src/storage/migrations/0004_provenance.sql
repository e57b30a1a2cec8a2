CREATE TABLE "signing_keys" (
	"keyid" text PRIMARY KEY NOT NULL,
	"algorithm" text NOT NULL,
	"public_key" text NOT NULL,
	"private_key" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp with time zone,
	CONSTRAINT "signing_keys_algorithm_check" CHECK ("signing_keys"."algorithm" = 'ed25519')
);
--> statement-breakpoint
ALTER TABLE "compute_artifacts" ADD COLUMN "verified" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "compute_artifacts" ADD COLUMN "verification" text DEFAULT 'recorded_before_verification' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "signing_keys_one_active_idx" ON "signing_keys" USING btree ("algorithm") WHERE "signing_keys"."retired_at" IS NULL;--> statement-breakpoint
ALTER TABLE "compute_artifacts" ADD CONSTRAINT "compute_artifacts_verified_iff_matched" CHECK ("compute_artifacts"."verified" = ("compute_artifacts"."verification" = 'digest_matched'));