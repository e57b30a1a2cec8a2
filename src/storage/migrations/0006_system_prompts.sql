ALTER TABLE "manifest_steps" ADD COLUMN "system" text;--> statement-breakpoint
ALTER TABLE "prompt_artifacts" ADD COLUMN "system_template" text;--> statement-breakpoint
ALTER TABLE "manifest_steps" ADD CONSTRAINT "manifest_steps_system_on_task" CHECK ("manifest_steps"."system" IS NULL OR "manifest_steps"."step_type" IS DISTINCT FROM 'compute');