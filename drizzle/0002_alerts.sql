CREATE TABLE `alert_deliveries` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`channel` text NOT NULL,
	`alert_id` text NOT NULL,
	`op` text NOT NULL,
	`payload` text NOT NULL,
	`attempts` integer NOT NULL,
	`next_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	`last_error` text
);
--> statement-breakpoint
CREATE INDEX `alert_deliveries_channel_idx` ON `alert_deliveries` (`channel`,`id`);--> statement-breakpoint
CREATE TABLE `alert_refs` (
	`alert_id` text NOT NULL,
	`channel` text NOT NULL,
	`ref` text NOT NULL,
	PRIMARY KEY(`alert_id`, `channel`)
);
--> statement-breakpoint
CREATE TABLE `alert_silences` (
	`id` text PRIMARY KEY NOT NULL,
	`host` text NOT NULL,
	`site` text,
	`until` integer NOT NULL,
	`by_name` text NOT NULL,
	`reason` text,
	`created_at` integer NOT NULL,
	`ended_at` integer
);
--> statement-breakpoint
CREATE INDEX `alert_silences_until_idx` ON `alert_silences` (`until`);--> statement-breakpoint
CREATE TABLE `alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`key` text NOT NULL,
	`severity` text NOT NULL,
	`status` text NOT NULL,
	`host` text NOT NULL,
	`site` text,
	`title` text NOT NULL,
	`lines` text NOT NULL,
	`silenced` integer NOT NULL,
	`announced` integer NOT NULL,
	`parent_id` text,
	`opened_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`resolved_at` integer,
	`acked_by` text,
	`reminded_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `alerts_status_idx` ON `alerts` (`status`);--> statement-breakpoint
CREATE INDEX `alerts_opened_idx` ON `alerts` (`opened_at`);