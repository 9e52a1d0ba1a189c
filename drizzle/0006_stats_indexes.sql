DROP INDEX `history_buckets_res_start_idx`;--> statement-breakpoint
DROP INDEX `history_buckets_series_idx`;--> statement-breakpoint
CREATE INDEX `history_buckets_window_idx` ON `history_buckets` (`res`,`start`,`series`,`host`,`site`,`n`,`ok_n`,`p50`,`p95`);--> statement-breakpoint
CREATE INDEX `history_buckets_site_idx` ON `history_buckets` (`host`,`site`,`res`,`start`,`series`,`n`,`ok_n`,`p50`,`p95`);--> statement-breakpoint
CREATE INDEX `history_buckets_series_idx` ON `history_buckets` (`series`,`res`,`start`,`host`,`site`,`n`);--> statement-breakpoint
DROP INDEX `history_points_at_idx`;--> statement-breakpoint
CREATE INDEX `history_points_window_idx` ON `history_points` (`at`,`series`,`host`,`site`,`value`,`ok`);--> statement-breakpoint
DROP INDEX `history_states_site_at_idx`;--> statement-breakpoint
CREATE INDEX `history_states_site_at_idx` ON `history_states` (`host`,`site`,`at`,`state`);