CREATE TABLE `audit_log` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`at` integer NOT NULL,
	`actor_platform` text NOT NULL,
	`actor_id` text NOT NULL,
	`actor_name` text NOT NULL,
	`action` text NOT NULL,
	`host` text,
	`site` text,
	`outcome` text NOT NULL,
	`duration_ms` integer,
	`details` text NOT NULL,
	`operation_id` text,
	FOREIGN KEY (`operation_id`) REFERENCES `operations`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `audit_log_at_idx` ON `audit_log` (`at`);--> statement-breakpoint
CREATE INDEX `audit_log_actor_id_idx` ON `audit_log` ("actor_id" COLLATE NOCASE,`at`);--> statement-breakpoint
CREATE INDEX `audit_log_actor_name_idx` ON `audit_log` ("actor_name" COLLATE NOCASE,`at`);--> statement-breakpoint
CREATE INDEX `audit_log_action_idx` ON `audit_log` (`action`,`at`);--> statement-breakpoint
CREATE INDEX `audit_log_site_idx` ON `audit_log` (`site`,`at`);--> statement-breakpoint
CREATE INDEX `audit_log_outcome_idx` ON `audit_log` (`outcome`,`at`);--> statement-breakpoint
CREATE INDEX `audit_log_operation_idx` ON `audit_log` (`operation_id`) WHERE "audit_log"."operation_id" IS NOT NULL;--> statement-breakpoint
CREATE TABLE `operations` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`host` text,
	`site` text,
	`args` text NOT NULL,
	`requested_by_platform` text NOT NULL,
	`requested_by_id` text NOT NULL,
	`requested_by_name` text NOT NULL,
	`status` text NOT NULL,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`exit_code` integer,
	`error` text,
	`output_tail` text,
	`output_platform` text,
	`output_channel_id` text,
	`output_thread_id` text,
	`output_message_id` text,
	`log_path` text
);
--> statement-breakpoint
CREATE INDEX `operations_created_idx` ON `operations` (`created_at`);--> statement-breakpoint
CREATE INDEX `operations_site_created_idx` ON `operations` (`site`,`created_at`);--> statement-breakpoint
CREATE INDEX `operations_host_created_idx` ON `operations` (`host`,`created_at`);--> statement-breakpoint
CREATE INDEX `operations_status_idx` ON `operations` (`status`);--> statement-breakpoint
CREATE INDEX `operations_finished_idx` ON `operations` (`finished_at`) WHERE "operations"."finished_at" IS NOT NULL;