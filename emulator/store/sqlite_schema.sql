-- The schema of a new SQLite database: the statements emulator/store/db.py's `_create` runs on an
-- empty one, in order, each to its last character (SQLite keeps a table's text as it was sent).
-- Written by `python -m emulator.store.schema`; do not edit by hand.

CREATE TABLE accounts (
	pk INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	"key" VARCHAR(220), 
	parent_id VARCHAR(64), 
	name VARCHAR(500), 
	"plan" VARCHAR(32) NOT NULL, 
	balance_cents BIGINT NOT NULL, 
	recording_enabled BOOLEAN NOT NULL, 
	numbers_bought BIGINT NOT NULL, 
	created_at DATETIME NOT NULL, 
	webhook_events VARCHAR(16), 
	PRIMARY KEY (pk), 
	UNIQUE ("key")
)

;

CREATE UNIQUE INDEX ix_accounts_id ON accounts (id);

CREATE INDEX ix_accounts_parent_id ON accounts (parent_id);

CREATE TABLE agent_buckets (
	account_id VARCHAR(64) NOT NULL, 
	grain VARCHAR(64) NOT NULL, 
	bucket VARCHAR(64) NOT NULL, 
	agent_id VARCHAR(64) NOT NULL, 
	kind VARCHAR(64) NOT NULL, 
	n BIGINT NOT NULL, 
	seconds BIGINT NOT NULL, 
	PRIMARY KEY (account_id, grain, bucket, agent_id, kind)
)
 WITHOUT ROWID

;

CREATE TABLE agents (
	pk INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	account_id VARCHAR(64) NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	description TEXT, 
	voice_mode VARCHAR(16) NOT NULL, 
	system_prompt TEXT, 
	begin_message TEXT, 
	voice VARCHAR(100) NOT NULL, 
	model_tier VARCHAR(16) NOT NULL, 
	enable_messaging BOOLEAN NOT NULL, 
	transfer_number VARCHAR(32), 
	custom_tools JSON, 
	voicemail_message TEXT, 
	call_screening_identity TEXT, 
	call_screening_purpose TEXT, 
	stt_mode VARCHAR(16) NOT NULL, 
	ambient_sound VARCHAR(32) NOT NULL, 
	denoising_mode VARCHAR(64) NOT NULL, 
	max_silence_ms BIGINT NOT NULL, 
	voice_speed FLOAT NOT NULL, 
	interruption_sensitivity FLOAT NOT NULL, 
	enable_backchannel BOOLEAN NOT NULL, 
	language VARCHAR(16) NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (pk)
)

;

CREATE INDEX ix_agents_account_id ON agents (account_id);

CREATE UNIQUE INDEX ix_agents_id ON agents (id);

CREATE TABLE call_commands (
	pk INTEGER NOT NULL, 
	call_id VARCHAR(64) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	body JSON, 
	answer JSON, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (pk)
)

;

CREATE INDEX ix_call_commands_call_id ON call_commands (call_id);

CREATE TABLE call_numbers (
	account_id VARCHAR(64) NOT NULL, 
	number VARCHAR(64) NOT NULL, 
	side VARCHAR(64) NOT NULL, 
	agent_id VARCHAR(64) NOT NULL, 
	phone_number_id VARCHAR(64) NOT NULL, 
	status VARCHAR(64) NOT NULL, 
	direction VARCHAR(64) NOT NULL, 
	type VARCHAR(64) NOT NULL, 
	calls BIGINT NOT NULL, 
	PRIMARY KEY (account_id, number, side, agent_id, phone_number_id, status, direction, type)
)
 WITHOUT ROWID

;

CREATE TABLE call_runners (
	call_id VARCHAR(64) NOT NULL, 
	process VARCHAR(32) NOT NULL, 
	PRIMARY KEY (call_id)
)

;

CREATE INDEX ix_call_runners_process ON call_runners (process);

CREATE TABLE call_tally (
	account_id VARCHAR(64) NOT NULL, 
	agent_id VARCHAR(64) NOT NULL, 
	phone_number_id VARCHAR(64) NOT NULL, 
	status VARCHAR(64) NOT NULL, 
	direction VARCHAR(64) NOT NULL, 
	type VARCHAR(64) NOT NULL, 
	calls BIGINT NOT NULL, 
	seconds BIGINT NOT NULL, 
	PRIMARY KEY (account_id, agent_id, phone_number_id, status, direction, type)
)
 WITHOUT ROWID

;

CREATE TABLE calls (
	pk INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	account_id VARCHAR(64) NOT NULL, 
	agent_id VARCHAR(64), 
	phone_number_id VARCHAR(64), 
	phone_number VARCHAR(32), 
	from_number VARCHAR(64) NOT NULL, 
	to_number VARCHAR(64) NOT NULL, 
	direction VARCHAR(16) NOT NULL, 
	type VARCHAR(8) NOT NULL, 
	status VARCHAR(24) NOT NULL, 
	voice VARCHAR(100), 
	initial_greeting TEXT, 
	system_prompt TEXT, 
	variables JSON, 
	call_metadata JSON, 
	end_reason VARCHAR(64), 
	started_at DATETIME NOT NULL, 
	ended_at DATETIME, 
	duration_seconds BIGINT, 
	last_transcript_snippet TEXT, 
	recording_available BOOLEAN NOT NULL, 
	PRIMARY KEY (pk)
)

;

CREATE INDEX ix_calls_account_agent_id_time ON calls (account_id, agent_id, started_at);

CREATE INDEX ix_calls_account_direction_time ON calls (account_id, direction, started_at);

CREATE INDEX ix_calls_account_from_number_time ON calls (account_id, from_number, started_at);

CREATE INDEX ix_calls_account_from_to ON calls (account_id, from_number, to_number);

CREATE INDEX ix_calls_account_phone_number_id_time ON calls (account_id, phone_number_id, started_at);

CREATE INDEX ix_calls_account_status_time ON calls (account_id, status, started_at);

CREATE INDEX ix_calls_account_time ON calls (account_id, started_at);

CREATE INDEX ix_calls_account_to_number_time ON calls (account_id, to_number, started_at);

CREATE INDEX ix_calls_account_type_time ON calls (account_id, type, started_at);

CREATE INDEX ix_calls_agent_id ON calls (agent_id);

CREATE UNIQUE INDEX ix_calls_id ON calls (id);

CREATE INDEX ix_calls_in_progress ON calls (status) WHERE status = 'in-progress';

CREATE INDEX ix_calls_phone_number_id ON calls (phone_number_id);

CREATE TABLE contacts (
	pk INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	account_id VARCHAR(64) NOT NULL, 
	phone_number VARCHAR(32) NOT NULL, 
	name VARCHAR(500) NOT NULL, 
	email VARCHAR(320), 
	notes TEXT, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (pk), 
	UNIQUE (account_id, phone_number)
)

;

CREATE INDEX ix_contacts_account_id ON contacts (account_id);

CREATE UNIQUE INDEX ix_contacts_id ON contacts (id);

CREATE TABLE conversation_tally (
	account_id VARCHAR(64) NOT NULL, 
	agent_id VARCHAR(64) NOT NULL, 
	conversations BIGINT NOT NULL, 
	PRIMARY KEY (account_id, agent_id)
)
 WITHOUT ROWID

;

CREATE TABLE conversations (
	pk INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	account_id VARCHAR(64) NOT NULL, 
	agent_id VARCHAR(64), 
	phone_number_id VARCHAR(64) NOT NULL, 
	phone_number VARCHAR(32) NOT NULL, 
	participant VARCHAR(64) NOT NULL, 
	channel VARCHAR(16) DEFAULT 'sms' NOT NULL, 
	state JSON, 
	message_count BIGINT NOT NULL, 
	last_message_at DATETIME NOT NULL, 
	last_message_preview TEXT NOT NULL, 
	background JSON, 
	created_at DATETIME NOT NULL, 
	group_info JSON, 
	PRIMARY KEY (pk), 
	UNIQUE (phone_number_id, participant)
)

;

CREATE INDEX ix_conversations_account_agent_latest ON conversations (account_id, agent_id, last_message_at);

CREATE INDEX ix_conversations_account_id ON conversations (account_id);

CREATE INDEX ix_conversations_account_latest ON conversations (account_id, last_message_at);

CREATE INDEX ix_conversations_agent_id ON conversations (agent_id);

CREATE UNIQUE INDEX ix_conversations_id ON conversations (id);

CREATE INDEX ix_conversations_phone_number_id ON conversations (phone_number_id);

CREATE TABLE delivery_events (
	account_id VARCHAR(64) NOT NULL, 
	grain VARCHAR(64) NOT NULL, 
	bucket VARCHAR(64) NOT NULL, 
	event_type VARCHAR(64) NOT NULL, 
	status VARCHAR(64) NOT NULL, 
	deliveries BIGINT NOT NULL, 
	PRIMARY KEY (account_id, grain, bucket, event_type, status)
)
 WITHOUT ROWID

;

CREATE TABLE delivery_hours (
	account_id VARCHAR(64) NOT NULL, 
	bucket VARCHAR(64) NOT NULL, 
	status VARCHAR(64) NOT NULL, 
	deliveries BIGINT NOT NULL, 
	PRIMARY KEY (account_id, bucket, status)
)
 WITHOUT ROWID

;

CREATE TABLE delivery_tally (
	account_id VARCHAR(64) NOT NULL, 
	agent_id VARCHAR(64) NOT NULL, 
	event_type VARCHAR(64) NOT NULL, 
	status VARCHAR(64) NOT NULL, 
	deliveries BIGINT NOT NULL, 
	PRIMARY KEY (account_id, agent_id, event_type, status)
)
 WITHOUT ROWID

;

CREATE TABLE happenings (
	pk INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, 
	stamp FLOAT NOT NULL, 
	kind VARCHAR(40) NOT NULL, 
	text TEXT NOT NULL, 
	at VARCHAR(40) NOT NULL, 
	accounts TEXT NOT NULL, 
	everyone BOOLEAN NOT NULL, 
	data TEXT NOT NULL
)

;

CREATE TABLE journal_entries (
	pk INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, 
	stamp FLOAT NOT NULL, 
	"key" VARCHAR(220), 
	account_id VARCHAR(64), 
	sub_account_id VARCHAR(64), 
	method VARCHAR(16) NOT NULL, 
	path TEXT NOT NULL, 
	raw_query BLOB NOT NULL, 
	raw_body BLOB NOT NULL, 
	body_truncated BOOLEAN NOT NULL, 
	status BIGINT, 
	duration_ms FLOAT NOT NULL
)

;

CREATE INDEX ix_journal_entries_key ON journal_entries ("key");

CREATE TABLE live_processes (
	process VARCHAR(32) NOT NULL, 
	pid BIGINT NOT NULL, 
	seen_at FLOAT NOT NULL, 
	PRIMARY KEY (process)
)

;

CREATE TABLE message_tally (
	account_id VARCHAR(64) NOT NULL, 
	agent_id VARCHAR(64) NOT NULL, 
	phone_number_id VARCHAR(64) NOT NULL, 
	messages BIGINT NOT NULL, 
	PRIMARY KEY (account_id, agent_id, phone_number_id)
)
 WITHOUT ROWID

;

CREATE TABLE messages (
	pk INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	account_id VARCHAR(64) NOT NULL, 
	agent_id VARCHAR(64), 
	conversation_id VARCHAR(64) NOT NULL, 
	phone_number_id VARCHAR(64) NOT NULL, 
	from_number VARCHAR(64) NOT NULL, 
	to_number VARCHAR(64) NOT NULL, 
	body TEXT NOT NULL, 
	direction VARCHAR(16) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	media_urls JSON, 
	received_at DATETIME NOT NULL, 
	PRIMARY KEY (pk)
)

;

CREATE INDEX ix_messages_account_time ON messages (account_id, received_at);

CREATE INDEX ix_messages_conversation_time ON messages (conversation_id, received_at);

CREATE UNIQUE INDEX ix_messages_id ON messages (id);

CREATE INDEX ix_messages_number_time ON messages (phone_number_id, received_at);

CREATE TABLE phone_numbers (
	pk INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	account_id VARCHAR(64) NOT NULL, 
	agent_id VARCHAR(64), 
	phone_number VARCHAR(32) NOT NULL, 
	country VARCHAR(8) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	type VARCHAR(16) NOT NULL, 
	external_id VARCHAR(200), 
	expires_at DATETIME, 
	attached_at DATETIME, 
	released_at DATETIME, 
	contact_card JSON, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (pk)
)

;

CREATE INDEX ix_numbers_expiry ON phone_numbers (expires_at) WHERE status = 'active' AND expires_at IS NOT NULL;

CREATE INDEX ix_phone_numbers_account_id ON phone_numbers (account_id);

CREATE INDEX ix_phone_numbers_agent_id ON phone_numbers (agent_id);

CREATE UNIQUE INDEX ix_phone_numbers_id ON phone_numbers (id);

CREATE INDEX ix_phone_numbers_phone_number ON phone_numbers (phone_number);

CREATE TABLE rate_windows (
	"key" VARCHAR(220) NOT NULL, 
	hits JSON NOT NULL, 
	last FLOAT NOT NULL, 
	PRIMARY KEY ("key")
)

;

CREATE INDEX ix_rate_windows_last ON rate_windows (last);

CREATE TABLE reactions (
	pk INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	account_id VARCHAR(64) NOT NULL, 
	message_id VARCHAR(64) NOT NULL, 
	reaction VARCHAR(64) NOT NULL, 
	created_at DATETIME NOT NULL, 
	direction VARCHAR(16) DEFAULT 'outbound' NOT NULL, 
	from_number VARCHAR(64), 
	PRIMARY KEY (pk)
)

;

CREATE INDEX ix_reactions_account_id ON reactions (account_id);

CREATE UNIQUE INDEX ix_reactions_id ON reactions (id);

CREATE INDEX ix_reactions_message_id ON reactions (message_id);

CREATE TABLE records (
	pk INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	account_id VARCHAR(64) NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	data JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (pk)
)

;

CREATE INDEX ix_records_account_id ON records (account_id);

CREATE UNIQUE INDEX ix_records_id ON records (id);

CREATE INDEX ix_records_kind ON records (kind);

CREATE TABLE shared_state (
	name VARCHAR(32) NOT NULL, 
	version VARCHAR(32) NOT NULL, 
	body JSON, 
	PRIMARY KEY (name)
)

;

CREATE TABLE store_meta (
	name VARCHAR(64) NOT NULL, 
	value VARCHAR(200) NOT NULL, 
	PRIMARY KEY (name)
)

;

CREATE TABLE transcripts (
	pk INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	account_id VARCHAR(64) NOT NULL, 
	call_id VARCHAR(64) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	transcript TEXT NOT NULL, 
	response TEXT, 
	confidence FLOAT, 
	details JSON, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (pk)
)

;

CREATE INDEX ix_transcripts_account_id ON transcripts (account_id);

CREATE INDEX ix_transcripts_call_id ON transcripts (call_id);

CREATE UNIQUE INDEX ix_transcripts_id ON transcripts (id);

CREATE TABLE usage_buckets (
	account_id VARCHAR(64) NOT NULL, 
	grain VARCHAR(64) NOT NULL, 
	bucket VARCHAR(64) NOT NULL, 
	kind VARCHAR(64) NOT NULL, 
	n BIGINT NOT NULL, 
	seconds BIGINT NOT NULL, 
	segments BIGINT NOT NULL, 
	PRIMARY KEY (account_id, grain, bucket, kind)
)
 WITHOUT ROWID

;

CREATE TABLE webhook_deliveries (
	pk INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	account_id VARCHAR(64) NOT NULL, 
	webhook_id VARCHAR(64), 
	agent_id VARCHAR(64), 
	message_id VARCHAR(64), 
	event_type VARCHAR(32) NOT NULL, 
	channel VARCHAR(16), 
	url TEXT, 
	payload TEXT NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	http_status BIGINT, 
	error_message TEXT, 
	response_body TEXT, 
	attempt_count BIGINT NOT NULL, 
	latency_ms FLOAT, 
	test BOOLEAN NOT NULL, 
	last_attempt_at DATETIME, 
	next_retry_at DATETIME, 
	created_at DATETIME NOT NULL, 
	claimed_by VARCHAR(32), 
	PRIMARY KEY (pk)
)

;

CREATE INDEX ix_deliveries_account_agent_time ON webhook_deliveries (account_id, agent_id, created_at);

CREATE INDEX ix_deliveries_account_time ON webhook_deliveries (account_id, created_at);

CREATE INDEX ix_deliveries_retry ON webhook_deliveries (next_retry_at) WHERE status = 'pending';

CREATE INDEX ix_webhook_deliveries_agent_id ON webhook_deliveries (agent_id);

CREATE UNIQUE INDEX ix_webhook_deliveries_id ON webhook_deliveries (id);

CREATE TABLE webhook_delivery_attempts (
	pk INTEGER NOT NULL, 
	account_id VARCHAR(64) NOT NULL, 
	delivery_id VARCHAR(64) NOT NULL, 
	turn_id VARCHAR(64), 
	number BIGINT NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	url TEXT, 
	request_headers JSON, 
	request_body TEXT, 
	http_status BIGINT, 
	error_message TEXT, 
	response_body TEXT, 
	content_type VARCHAR(200), 
	streamed BOOLEAN, 
	latency_ms FLOAT, 
	next_retry_at DATETIME, 
	attempted_at DATETIME NOT NULL, 
	PRIMARY KEY (pk)
)

;

CREATE INDEX ix_webhook_delivery_attempts_account_id ON webhook_delivery_attempts (account_id);

CREATE INDEX ix_webhook_delivery_attempts_delivery_id ON webhook_delivery_attempts (delivery_id);

CREATE INDEX ix_webhook_delivery_attempts_turn_id ON webhook_delivery_attempts (turn_id);

CREATE TABLE webhooks (
	pk INTEGER NOT NULL, 
	id VARCHAR(64) NOT NULL, 
	account_id VARCHAR(64) NOT NULL, 
	agent_id VARCHAR(64), 
	url TEXT NOT NULL, 
	secret VARCHAR(100) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	context_limit BIGINT NOT NULL, 
	timeout BIGINT NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	event_types JSON, 
	PRIMARY KEY (pk), 
	UNIQUE (account_id, agent_id)
)

;

CREATE INDEX ix_webhooks_account_id ON webhooks (account_id);

CREATE UNIQUE INDEX ix_webhooks_id ON webhooks (id);

CREATE TRIGGER rollup_calls_insert AFTER INSERT ON calls BEGIN
  INSERT INTO call_tally (account_id, agent_id, phone_number_id, status, direction, type, calls, seconds) SELECT NEW.account_id, coalesce(NEW.agent_id, ''), coalesce(NEW.phone_number_id, ''), NEW.status, NEW.direction, NEW.type, (1), (coalesce(NEW.duration_seconds, 0)) WHERE 1 = 1 ON CONFLICT (account_id, agent_id, phone_number_id, status, direction, type) DO UPDATE SET calls = call_tally.calls + excluded.calls, seconds = call_tally.seconds + excluded.seconds;
  INSERT INTO usage_buckets (account_id, grain, bucket, kind, n, seconds, segments) SELECT NEW.account_id, 'd', substr(NEW.started_at, 1, 10), 'call', (1), (coalesce(NEW.duration_seconds, 0)), (0) WHERE 1 = 1 ON CONFLICT (account_id, grain, bucket, kind) DO UPDATE SET n = usage_buckets.n + excluded.n, seconds = usage_buckets.seconds + excluded.seconds, segments = usage_buckets.segments + excluded.segments;
  INSERT INTO usage_buckets (account_id, grain, bucket, kind, n, seconds, segments) SELECT NEW.account_id, 'h', substr(NEW.started_at, 1, 13), 'call', (1), (coalesce(NEW.duration_seconds, 0)), (0) WHERE 1 = 1 ON CONFLICT (account_id, grain, bucket, kind) DO UPDATE SET n = usage_buckets.n + excluded.n, seconds = usage_buckets.seconds + excluded.seconds, segments = usage_buckets.segments + excluded.segments;
  INSERT INTO agent_buckets (account_id, grain, bucket, agent_id, kind, n, seconds) SELECT NEW.account_id, 'd', substr(NEW.started_at, 1, 10), coalesce(NEW.agent_id, ''), 'call', (1), (coalesce(NEW.duration_seconds, 0)) WHERE NEW.status = 'completed' ON CONFLICT (account_id, grain, bucket, agent_id, kind) DO UPDATE SET n = agent_buckets.n + excluded.n, seconds = agent_buckets.seconds + excluded.seconds;
  INSERT INTO agent_buckets (account_id, grain, bucket, agent_id, kind, n, seconds) SELECT NEW.account_id, 'h', substr(NEW.started_at, 1, 13), coalesce(NEW.agent_id, ''), 'call', (1), (coalesce(NEW.duration_seconds, 0)) WHERE NEW.status = 'completed' ON CONFLICT (account_id, grain, bucket, agent_id, kind) DO UPDATE SET n = agent_buckets.n + excluded.n, seconds = agent_buckets.seconds + excluded.seconds;
  INSERT INTO call_numbers (account_id, number, side, agent_id, phone_number_id, status, direction, type, calls) SELECT NEW.account_id, NEW.from_number, 'from', coalesce(NEW.agent_id, ''), coalesce(NEW.phone_number_id, ''), NEW.status, NEW.direction, NEW.type, (1) WHERE 1 = 1 ON CONFLICT (account_id, number, side, agent_id, phone_number_id, status, direction, type) DO UPDATE SET calls = call_numbers.calls + excluded.calls;
  INSERT INTO call_numbers (account_id, number, side, agent_id, phone_number_id, status, direction, type, calls) SELECT NEW.account_id, NEW.to_number, 'to', coalesce(NEW.agent_id, ''), coalesce(NEW.phone_number_id, ''), NEW.status, NEW.direction, NEW.type, (1) WHERE NEW.to_number <> NEW.from_number ON CONFLICT (account_id, number, side, agent_id, phone_number_id, status, direction, type) DO UPDATE SET calls = call_numbers.calls + excluded.calls;
END;

CREATE TRIGGER rollup_calls_update AFTER UPDATE OF agent_id, direction, duration_seconds, from_number, phone_number_id, started_at, status, to_number, type ON calls BEGIN
  INSERT INTO call_tally (account_id, agent_id, phone_number_id, status, direction, type, calls, seconds) SELECT OLD.account_id, coalesce(OLD.agent_id, ''), coalesce(OLD.phone_number_id, ''), OLD.status, OLD.direction, OLD.type, -(1), -(coalesce(OLD.duration_seconds, 0)) WHERE 1 = 1 AND (OLD.agent_id IS NOT NEW.agent_id OR OLD.phone_number_id IS NOT NEW.phone_number_id OR OLD.status IS NOT NEW.status OR OLD.direction IS NOT NEW.direction OR OLD.type IS NOT NEW.type OR OLD.duration_seconds IS NOT NEW.duration_seconds) ON CONFLICT (account_id, agent_id, phone_number_id, status, direction, type) DO UPDATE SET calls = call_tally.calls + excluded.calls, seconds = call_tally.seconds + excluded.seconds;
  INSERT INTO call_tally (account_id, agent_id, phone_number_id, status, direction, type, calls, seconds) SELECT NEW.account_id, coalesce(NEW.agent_id, ''), coalesce(NEW.phone_number_id, ''), NEW.status, NEW.direction, NEW.type, (1), (coalesce(NEW.duration_seconds, 0)) WHERE 1 = 1 AND (OLD.agent_id IS NOT NEW.agent_id OR OLD.phone_number_id IS NOT NEW.phone_number_id OR OLD.status IS NOT NEW.status OR OLD.direction IS NOT NEW.direction OR OLD.type IS NOT NEW.type OR OLD.duration_seconds IS NOT NEW.duration_seconds) ON CONFLICT (account_id, agent_id, phone_number_id, status, direction, type) DO UPDATE SET calls = call_tally.calls + excluded.calls, seconds = call_tally.seconds + excluded.seconds;
  INSERT INTO usage_buckets (account_id, grain, bucket, kind, n, seconds, segments) SELECT OLD.account_id, 'd', substr(OLD.started_at, 1, 10), 'call', -(1), -(coalesce(OLD.duration_seconds, 0)), -(0) WHERE 1 = 1 AND (OLD.started_at IS NOT NEW.started_at OR OLD.duration_seconds IS NOT NEW.duration_seconds) ON CONFLICT (account_id, grain, bucket, kind) DO UPDATE SET n = usage_buckets.n + excluded.n, seconds = usage_buckets.seconds + excluded.seconds, segments = usage_buckets.segments + excluded.segments;
  INSERT INTO usage_buckets (account_id, grain, bucket, kind, n, seconds, segments) SELECT NEW.account_id, 'd', substr(NEW.started_at, 1, 10), 'call', (1), (coalesce(NEW.duration_seconds, 0)), (0) WHERE 1 = 1 AND (OLD.started_at IS NOT NEW.started_at OR OLD.duration_seconds IS NOT NEW.duration_seconds) ON CONFLICT (account_id, grain, bucket, kind) DO UPDATE SET n = usage_buckets.n + excluded.n, seconds = usage_buckets.seconds + excluded.seconds, segments = usage_buckets.segments + excluded.segments;
  INSERT INTO usage_buckets (account_id, grain, bucket, kind, n, seconds, segments) SELECT OLD.account_id, 'h', substr(OLD.started_at, 1, 13), 'call', -(1), -(coalesce(OLD.duration_seconds, 0)), -(0) WHERE 1 = 1 AND (OLD.started_at IS NOT NEW.started_at OR OLD.duration_seconds IS NOT NEW.duration_seconds) ON CONFLICT (account_id, grain, bucket, kind) DO UPDATE SET n = usage_buckets.n + excluded.n, seconds = usage_buckets.seconds + excluded.seconds, segments = usage_buckets.segments + excluded.segments;
  INSERT INTO usage_buckets (account_id, grain, bucket, kind, n, seconds, segments) SELECT NEW.account_id, 'h', substr(NEW.started_at, 1, 13), 'call', (1), (coalesce(NEW.duration_seconds, 0)), (0) WHERE 1 = 1 AND (OLD.started_at IS NOT NEW.started_at OR OLD.duration_seconds IS NOT NEW.duration_seconds) ON CONFLICT (account_id, grain, bucket, kind) DO UPDATE SET n = usage_buckets.n + excluded.n, seconds = usage_buckets.seconds + excluded.seconds, segments = usage_buckets.segments + excluded.segments;
  INSERT INTO agent_buckets (account_id, grain, bucket, agent_id, kind, n, seconds) SELECT OLD.account_id, 'd', substr(OLD.started_at, 1, 10), coalesce(OLD.agent_id, ''), 'call', -(1), -(coalesce(OLD.duration_seconds, 0)) WHERE OLD.status = 'completed' AND (OLD.started_at IS NOT NEW.started_at OR OLD.agent_id IS NOT NEW.agent_id OR OLD.status IS NOT NEW.status OR OLD.duration_seconds IS NOT NEW.duration_seconds) ON CONFLICT (account_id, grain, bucket, agent_id, kind) DO UPDATE SET n = agent_buckets.n + excluded.n, seconds = agent_buckets.seconds + excluded.seconds;
  INSERT INTO agent_buckets (account_id, grain, bucket, agent_id, kind, n, seconds) SELECT NEW.account_id, 'd', substr(NEW.started_at, 1, 10), coalesce(NEW.agent_id, ''), 'call', (1), (coalesce(NEW.duration_seconds, 0)) WHERE NEW.status = 'completed' AND (OLD.started_at IS NOT NEW.started_at OR OLD.agent_id IS NOT NEW.agent_id OR OLD.status IS NOT NEW.status OR OLD.duration_seconds IS NOT NEW.duration_seconds) ON CONFLICT (account_id, grain, bucket, agent_id, kind) DO UPDATE SET n = agent_buckets.n + excluded.n, seconds = agent_buckets.seconds + excluded.seconds;
  INSERT INTO agent_buckets (account_id, grain, bucket, agent_id, kind, n, seconds) SELECT OLD.account_id, 'h', substr(OLD.started_at, 1, 13), coalesce(OLD.agent_id, ''), 'call', -(1), -(coalesce(OLD.duration_seconds, 0)) WHERE OLD.status = 'completed' AND (OLD.started_at IS NOT NEW.started_at OR OLD.agent_id IS NOT NEW.agent_id OR OLD.status IS NOT NEW.status OR OLD.duration_seconds IS NOT NEW.duration_seconds) ON CONFLICT (account_id, grain, bucket, agent_id, kind) DO UPDATE SET n = agent_buckets.n + excluded.n, seconds = agent_buckets.seconds + excluded.seconds;
  INSERT INTO agent_buckets (account_id, grain, bucket, agent_id, kind, n, seconds) SELECT NEW.account_id, 'h', substr(NEW.started_at, 1, 13), coalesce(NEW.agent_id, ''), 'call', (1), (coalesce(NEW.duration_seconds, 0)) WHERE NEW.status = 'completed' AND (OLD.started_at IS NOT NEW.started_at OR OLD.agent_id IS NOT NEW.agent_id OR OLD.status IS NOT NEW.status OR OLD.duration_seconds IS NOT NEW.duration_seconds) ON CONFLICT (account_id, grain, bucket, agent_id, kind) DO UPDATE SET n = agent_buckets.n + excluded.n, seconds = agent_buckets.seconds + excluded.seconds;
  INSERT INTO call_numbers (account_id, number, side, agent_id, phone_number_id, status, direction, type, calls) SELECT OLD.account_id, OLD.from_number, 'from', coalesce(OLD.agent_id, ''), coalesce(OLD.phone_number_id, ''), OLD.status, OLD.direction, OLD.type, -(1) WHERE 1 = 1 AND (OLD.from_number IS NOT NEW.from_number OR OLD.to_number IS NOT NEW.to_number OR OLD.agent_id IS NOT NEW.agent_id OR OLD.phone_number_id IS NOT NEW.phone_number_id OR OLD.status IS NOT NEW.status OR OLD.direction IS NOT NEW.direction OR OLD.type IS NOT NEW.type) ON CONFLICT (account_id, number, side, agent_id, phone_number_id, status, direction, type) DO UPDATE SET calls = call_numbers.calls + excluded.calls;
  INSERT INTO call_numbers (account_id, number, side, agent_id, phone_number_id, status, direction, type, calls) SELECT NEW.account_id, NEW.from_number, 'from', coalesce(NEW.agent_id, ''), coalesce(NEW.phone_number_id, ''), NEW.status, NEW.direction, NEW.type, (1) WHERE 1 = 1 AND (OLD.from_number IS NOT NEW.from_number OR OLD.to_number IS NOT NEW.to_number OR OLD.agent_id IS NOT NEW.agent_id OR OLD.phone_number_id IS NOT NEW.phone_number_id OR OLD.status IS NOT NEW.status OR OLD.direction IS NOT NEW.direction OR OLD.type IS NOT NEW.type) ON CONFLICT (account_id, number, side, agent_id, phone_number_id, status, direction, type) DO UPDATE SET calls = call_numbers.calls + excluded.calls;
  INSERT INTO call_numbers (account_id, number, side, agent_id, phone_number_id, status, direction, type, calls) SELECT OLD.account_id, OLD.to_number, 'to', coalesce(OLD.agent_id, ''), coalesce(OLD.phone_number_id, ''), OLD.status, OLD.direction, OLD.type, -(1) WHERE OLD.to_number <> OLD.from_number AND (OLD.from_number IS NOT NEW.from_number OR OLD.to_number IS NOT NEW.to_number OR OLD.agent_id IS NOT NEW.agent_id OR OLD.phone_number_id IS NOT NEW.phone_number_id OR OLD.status IS NOT NEW.status OR OLD.direction IS NOT NEW.direction OR OLD.type IS NOT NEW.type) ON CONFLICT (account_id, number, side, agent_id, phone_number_id, status, direction, type) DO UPDATE SET calls = call_numbers.calls + excluded.calls;
  INSERT INTO call_numbers (account_id, number, side, agent_id, phone_number_id, status, direction, type, calls) SELECT NEW.account_id, NEW.to_number, 'to', coalesce(NEW.agent_id, ''), coalesce(NEW.phone_number_id, ''), NEW.status, NEW.direction, NEW.type, (1) WHERE NEW.to_number <> NEW.from_number AND (OLD.from_number IS NOT NEW.from_number OR OLD.to_number IS NOT NEW.to_number OR OLD.agent_id IS NOT NEW.agent_id OR OLD.phone_number_id IS NOT NEW.phone_number_id OR OLD.status IS NOT NEW.status OR OLD.direction IS NOT NEW.direction OR OLD.type IS NOT NEW.type) ON CONFLICT (account_id, number, side, agent_id, phone_number_id, status, direction, type) DO UPDATE SET calls = call_numbers.calls + excluded.calls;
END;

CREATE TRIGGER rollup_messages_insert AFTER INSERT ON messages BEGIN
  INSERT INTO message_tally (account_id, agent_id, phone_number_id, messages) SELECT NEW.account_id, coalesce(NEW.agent_id, ''), NEW.phone_number_id, (1) WHERE 1 = 1 ON CONFLICT (account_id, agent_id, phone_number_id) DO UPDATE SET messages = message_tally.messages + excluded.messages;
  INSERT INTO usage_buckets (account_id, grain, bucket, kind, n, seconds, segments) SELECT NEW.account_id, 'd', substr(NEW.received_at, 1, 10), 'message', (1), (0), (CASE WHEN length(NEW.body) <= 160 THEN 1 ELSE (length(NEW.body) + 152) / 153 END) WHERE 1 = 1 ON CONFLICT (account_id, grain, bucket, kind) DO UPDATE SET n = usage_buckets.n + excluded.n, seconds = usage_buckets.seconds + excluded.seconds, segments = usage_buckets.segments + excluded.segments;
  INSERT INTO usage_buckets (account_id, grain, bucket, kind, n, seconds, segments) SELECT NEW.account_id, 'h', substr(NEW.received_at, 1, 13), 'message', (1), (0), (CASE WHEN length(NEW.body) <= 160 THEN 1 ELSE (length(NEW.body) + 152) / 153 END) WHERE 1 = 1 ON CONFLICT (account_id, grain, bucket, kind) DO UPDATE SET n = usage_buckets.n + excluded.n, seconds = usage_buckets.seconds + excluded.seconds, segments = usage_buckets.segments + excluded.segments;
  INSERT INTO agent_buckets (account_id, grain, bucket, agent_id, kind, n, seconds) SELECT NEW.account_id, 'd', substr(NEW.received_at, 1, 10), coalesce(NEW.agent_id, ''), 'message', (1), (0) WHERE 1 = 1 ON CONFLICT (account_id, grain, bucket, agent_id, kind) DO UPDATE SET n = agent_buckets.n + excluded.n, seconds = agent_buckets.seconds + excluded.seconds;
  INSERT INTO agent_buckets (account_id, grain, bucket, agent_id, kind, n, seconds) SELECT NEW.account_id, 'h', substr(NEW.received_at, 1, 13), coalesce(NEW.agent_id, ''), 'message', (1), (0) WHERE 1 = 1 ON CONFLICT (account_id, grain, bucket, agent_id, kind) DO UPDATE SET n = agent_buckets.n + excluded.n, seconds = agent_buckets.seconds + excluded.seconds;
END;

CREATE TRIGGER rollup_messages_update AFTER UPDATE OF agent_id, body, phone_number_id, received_at ON messages BEGIN
  INSERT INTO message_tally (account_id, agent_id, phone_number_id, messages) SELECT OLD.account_id, coalesce(OLD.agent_id, ''), OLD.phone_number_id, -(1) WHERE 1 = 1 AND (OLD.agent_id IS NOT NEW.agent_id OR OLD.phone_number_id IS NOT NEW.phone_number_id) ON CONFLICT (account_id, agent_id, phone_number_id) DO UPDATE SET messages = message_tally.messages + excluded.messages;
  INSERT INTO message_tally (account_id, agent_id, phone_number_id, messages) SELECT NEW.account_id, coalesce(NEW.agent_id, ''), NEW.phone_number_id, (1) WHERE 1 = 1 AND (OLD.agent_id IS NOT NEW.agent_id OR OLD.phone_number_id IS NOT NEW.phone_number_id) ON CONFLICT (account_id, agent_id, phone_number_id) DO UPDATE SET messages = message_tally.messages + excluded.messages;
  INSERT INTO usage_buckets (account_id, grain, bucket, kind, n, seconds, segments) SELECT OLD.account_id, 'd', substr(OLD.received_at, 1, 10), 'message', -(1), -(0), -(CASE WHEN length(OLD.body) <= 160 THEN 1 ELSE (length(OLD.body) + 152) / 153 END) WHERE 1 = 1 AND (OLD.received_at IS NOT NEW.received_at OR OLD.body IS NOT NEW.body) ON CONFLICT (account_id, grain, bucket, kind) DO UPDATE SET n = usage_buckets.n + excluded.n, seconds = usage_buckets.seconds + excluded.seconds, segments = usage_buckets.segments + excluded.segments;
  INSERT INTO usage_buckets (account_id, grain, bucket, kind, n, seconds, segments) SELECT NEW.account_id, 'd', substr(NEW.received_at, 1, 10), 'message', (1), (0), (CASE WHEN length(NEW.body) <= 160 THEN 1 ELSE (length(NEW.body) + 152) / 153 END) WHERE 1 = 1 AND (OLD.received_at IS NOT NEW.received_at OR OLD.body IS NOT NEW.body) ON CONFLICT (account_id, grain, bucket, kind) DO UPDATE SET n = usage_buckets.n + excluded.n, seconds = usage_buckets.seconds + excluded.seconds, segments = usage_buckets.segments + excluded.segments;
  INSERT INTO usage_buckets (account_id, grain, bucket, kind, n, seconds, segments) SELECT OLD.account_id, 'h', substr(OLD.received_at, 1, 13), 'message', -(1), -(0), -(CASE WHEN length(OLD.body) <= 160 THEN 1 ELSE (length(OLD.body) + 152) / 153 END) WHERE 1 = 1 AND (OLD.received_at IS NOT NEW.received_at OR OLD.body IS NOT NEW.body) ON CONFLICT (account_id, grain, bucket, kind) DO UPDATE SET n = usage_buckets.n + excluded.n, seconds = usage_buckets.seconds + excluded.seconds, segments = usage_buckets.segments + excluded.segments;
  INSERT INTO usage_buckets (account_id, grain, bucket, kind, n, seconds, segments) SELECT NEW.account_id, 'h', substr(NEW.received_at, 1, 13), 'message', (1), (0), (CASE WHEN length(NEW.body) <= 160 THEN 1 ELSE (length(NEW.body) + 152) / 153 END) WHERE 1 = 1 AND (OLD.received_at IS NOT NEW.received_at OR OLD.body IS NOT NEW.body) ON CONFLICT (account_id, grain, bucket, kind) DO UPDATE SET n = usage_buckets.n + excluded.n, seconds = usage_buckets.seconds + excluded.seconds, segments = usage_buckets.segments + excluded.segments;
  INSERT INTO agent_buckets (account_id, grain, bucket, agent_id, kind, n, seconds) SELECT OLD.account_id, 'd', substr(OLD.received_at, 1, 10), coalesce(OLD.agent_id, ''), 'message', -(1), -(0) WHERE 1 = 1 AND (OLD.received_at IS NOT NEW.received_at OR OLD.agent_id IS NOT NEW.agent_id) ON CONFLICT (account_id, grain, bucket, agent_id, kind) DO UPDATE SET n = agent_buckets.n + excluded.n, seconds = agent_buckets.seconds + excluded.seconds;
  INSERT INTO agent_buckets (account_id, grain, bucket, agent_id, kind, n, seconds) SELECT NEW.account_id, 'd', substr(NEW.received_at, 1, 10), coalesce(NEW.agent_id, ''), 'message', (1), (0) WHERE 1 = 1 AND (OLD.received_at IS NOT NEW.received_at OR OLD.agent_id IS NOT NEW.agent_id) ON CONFLICT (account_id, grain, bucket, agent_id, kind) DO UPDATE SET n = agent_buckets.n + excluded.n, seconds = agent_buckets.seconds + excluded.seconds;
  INSERT INTO agent_buckets (account_id, grain, bucket, agent_id, kind, n, seconds) SELECT OLD.account_id, 'h', substr(OLD.received_at, 1, 13), coalesce(OLD.agent_id, ''), 'message', -(1), -(0) WHERE 1 = 1 AND (OLD.received_at IS NOT NEW.received_at OR OLD.agent_id IS NOT NEW.agent_id) ON CONFLICT (account_id, grain, bucket, agent_id, kind) DO UPDATE SET n = agent_buckets.n + excluded.n, seconds = agent_buckets.seconds + excluded.seconds;
  INSERT INTO agent_buckets (account_id, grain, bucket, agent_id, kind, n, seconds) SELECT NEW.account_id, 'h', substr(NEW.received_at, 1, 13), coalesce(NEW.agent_id, ''), 'message', (1), (0) WHERE 1 = 1 AND (OLD.received_at IS NOT NEW.received_at OR OLD.agent_id IS NOT NEW.agent_id) ON CONFLICT (account_id, grain, bucket, agent_id, kind) DO UPDATE SET n = agent_buckets.n + excluded.n, seconds = agent_buckets.seconds + excluded.seconds;
END;

CREATE TRIGGER rollup_webhook_deliveries_insert AFTER INSERT ON webhook_deliveries BEGIN
  INSERT INTO delivery_tally (account_id, agent_id, event_type, status, deliveries) SELECT NEW.account_id, coalesce(NEW.agent_id, ''), NEW.event_type, NEW.status, (1) WHERE 1 = 1 ON CONFLICT (account_id, agent_id, event_type, status) DO UPDATE SET deliveries = delivery_tally.deliveries + excluded.deliveries;
  INSERT INTO usage_buckets (account_id, grain, bucket, kind, n, seconds, segments) SELECT NEW.account_id, 'd', substr(NEW.created_at, 1, 10), 'delivery', (1), (0), (0) WHERE 1 = 1 ON CONFLICT (account_id, grain, bucket, kind) DO UPDATE SET n = usage_buckets.n + excluded.n, seconds = usage_buckets.seconds + excluded.seconds, segments = usage_buckets.segments + excluded.segments;
  INSERT INTO usage_buckets (account_id, grain, bucket, kind, n, seconds, segments) SELECT NEW.account_id, 'h', substr(NEW.created_at, 1, 13), 'delivery', (1), (0), (0) WHERE 1 = 1 ON CONFLICT (account_id, grain, bucket, kind) DO UPDATE SET n = usage_buckets.n + excluded.n, seconds = usage_buckets.seconds + excluded.seconds, segments = usage_buckets.segments + excluded.segments;
  INSERT INTO delivery_hours (account_id, bucket, status, deliveries) SELECT NEW.account_id, substr(NEW.created_at, 1, 13), NEW.status, (1) WHERE 1 = 1 ON CONFLICT (account_id, bucket, status) DO UPDATE SET deliveries = delivery_hours.deliveries + excluded.deliveries;
  INSERT INTO delivery_events (account_id, grain, bucket, event_type, status, deliveries) SELECT NEW.account_id, 'd', substr(NEW.created_at, 1, 10), NEW.event_type, NEW.status, (1) WHERE 1 = 1 ON CONFLICT (account_id, grain, bucket, event_type, status) DO UPDATE SET deliveries = delivery_events.deliveries + excluded.deliveries;
  INSERT INTO delivery_events (account_id, grain, bucket, event_type, status, deliveries) SELECT NEW.account_id, 'h', substr(NEW.created_at, 1, 13), NEW.event_type, NEW.status, (1) WHERE 1 = 1 ON CONFLICT (account_id, grain, bucket, event_type, status) DO UPDATE SET deliveries = delivery_events.deliveries + excluded.deliveries;
END;

CREATE TRIGGER rollup_webhook_deliveries_update AFTER UPDATE OF agent_id, event_type, status ON webhook_deliveries BEGIN
  INSERT INTO delivery_tally (account_id, agent_id, event_type, status, deliveries) SELECT OLD.account_id, coalesce(OLD.agent_id, ''), OLD.event_type, OLD.status, -(1) WHERE 1 = 1 AND (OLD.agent_id IS NOT NEW.agent_id OR OLD.event_type IS NOT NEW.event_type OR OLD.status IS NOT NEW.status) ON CONFLICT (account_id, agent_id, event_type, status) DO UPDATE SET deliveries = delivery_tally.deliveries + excluded.deliveries;
  INSERT INTO delivery_tally (account_id, agent_id, event_type, status, deliveries) SELECT NEW.account_id, coalesce(NEW.agent_id, ''), NEW.event_type, NEW.status, (1) WHERE 1 = 1 AND (OLD.agent_id IS NOT NEW.agent_id OR OLD.event_type IS NOT NEW.event_type OR OLD.status IS NOT NEW.status) ON CONFLICT (account_id, agent_id, event_type, status) DO UPDATE SET deliveries = delivery_tally.deliveries + excluded.deliveries;
  INSERT INTO delivery_hours (account_id, bucket, status, deliveries) SELECT OLD.account_id, substr(OLD.created_at, 1, 13), OLD.status, -(1) WHERE 1 = 1 AND (OLD.status IS NOT NEW.status) ON CONFLICT (account_id, bucket, status) DO UPDATE SET deliveries = delivery_hours.deliveries + excluded.deliveries;
  INSERT INTO delivery_hours (account_id, bucket, status, deliveries) SELECT NEW.account_id, substr(NEW.created_at, 1, 13), NEW.status, (1) WHERE 1 = 1 AND (OLD.status IS NOT NEW.status) ON CONFLICT (account_id, bucket, status) DO UPDATE SET deliveries = delivery_hours.deliveries + excluded.deliveries;
  INSERT INTO delivery_events (account_id, grain, bucket, event_type, status, deliveries) SELECT OLD.account_id, 'd', substr(OLD.created_at, 1, 10), OLD.event_type, OLD.status, -(1) WHERE 1 = 1 AND (OLD.event_type IS NOT NEW.event_type OR OLD.status IS NOT NEW.status) ON CONFLICT (account_id, grain, bucket, event_type, status) DO UPDATE SET deliveries = delivery_events.deliveries + excluded.deliveries;
  INSERT INTO delivery_events (account_id, grain, bucket, event_type, status, deliveries) SELECT NEW.account_id, 'd', substr(NEW.created_at, 1, 10), NEW.event_type, NEW.status, (1) WHERE 1 = 1 AND (OLD.event_type IS NOT NEW.event_type OR OLD.status IS NOT NEW.status) ON CONFLICT (account_id, grain, bucket, event_type, status) DO UPDATE SET deliveries = delivery_events.deliveries + excluded.deliveries;
  INSERT INTO delivery_events (account_id, grain, bucket, event_type, status, deliveries) SELECT OLD.account_id, 'h', substr(OLD.created_at, 1, 13), OLD.event_type, OLD.status, -(1) WHERE 1 = 1 AND (OLD.event_type IS NOT NEW.event_type OR OLD.status IS NOT NEW.status) ON CONFLICT (account_id, grain, bucket, event_type, status) DO UPDATE SET deliveries = delivery_events.deliveries + excluded.deliveries;
  INSERT INTO delivery_events (account_id, grain, bucket, event_type, status, deliveries) SELECT NEW.account_id, 'h', substr(NEW.created_at, 1, 13), NEW.event_type, NEW.status, (1) WHERE 1 = 1 AND (OLD.event_type IS NOT NEW.event_type OR OLD.status IS NOT NEW.status) ON CONFLICT (account_id, grain, bucket, event_type, status) DO UPDATE SET deliveries = delivery_events.deliveries + excluded.deliveries;
END;

CREATE TRIGGER rollup_conversations_insert AFTER INSERT ON conversations BEGIN
  INSERT INTO conversation_tally (account_id, agent_id, conversations) SELECT NEW.account_id, coalesce(NEW.agent_id, ''), (1) WHERE 1 = 1 ON CONFLICT (account_id, agent_id) DO UPDATE SET conversations = conversation_tally.conversations + excluded.conversations;
END;

CREATE TRIGGER rollup_conversations_update AFTER UPDATE OF agent_id ON conversations BEGIN
  INSERT INTO conversation_tally (account_id, agent_id, conversations) SELECT OLD.account_id, coalesce(OLD.agent_id, ''), -(1) WHERE 1 = 1 AND (OLD.agent_id IS NOT NEW.agent_id) ON CONFLICT (account_id, agent_id) DO UPDATE SET conversations = conversation_tally.conversations + excluded.conversations;
  INSERT INTO conversation_tally (account_id, agent_id, conversations) SELECT NEW.account_id, coalesce(NEW.agent_id, ''), (1) WHERE 1 = 1 AND (OLD.agent_id IS NOT NEW.agent_id) ON CONFLICT (account_id, agent_id) DO UPDATE SET conversations = conversation_tally.conversations + excluded.conversations;
END;

DELETE FROM store_meta WHERE store_meta.name = 'rollups';

INSERT INTO store_meta (name, value) VALUES ('rollups', '548db901087e7e99');

CREATE TABLE search_numbers (id INTEGER PRIMARY KEY, number VARCHAR(64) NOT NULL UNIQUE, refs INTEGER NOT NULL);

CREATE VIRTUAL TABLE search_numbers_fts USING fts5(number, content='search_numbers', content_rowid='id', tokenize='trigram');

CREATE TRIGGER search_numbers_added AFTER INSERT ON search_numbers BEGIN INSERT INTO search_numbers_fts (rowid, number) VALUES (NEW.id, NEW.number); END;

CREATE TRIGGER search_numbers_removed AFTER DELETE ON search_numbers BEGIN INSERT INTO search_numbers_fts (search_numbers_fts, rowid, number) VALUES ('delete', OLD.id, OLD.number); END;

CREATE TRIGGER search_call_numbers_added AFTER INSERT ON call_numbers BEGIN INSERT INTO search_numbers (number, refs) VALUES (NEW.number, 1) ON CONFLICT (number) DO UPDATE SET refs = refs + 1; END;

CREATE TRIGGER search_call_numbers_removed AFTER DELETE ON call_numbers BEGIN UPDATE search_numbers SET refs = refs - 1 WHERE number = OLD.number; DELETE FROM search_numbers WHERE number = OLD.number AND refs <= 0; END;

DELETE FROM store_meta WHERE store_meta.name = 'search';

INSERT INTO store_meta (name, value) VALUES ('search', '5cba1804a5c7310a');

CREATE TABLE agent_documents (pk INTEGER PRIMARY KEY, body TEXT NOT NULL);

CREATE TABLE call_documents (pk INTEGER PRIMARY KEY, body TEXT NOT NULL);

CREATE TABLE message_documents (pk INTEGER PRIMARY KEY, body TEXT NOT NULL);

CREATE TRIGGER agent_documents_added AFTER INSERT ON agents BEGIN INSERT INTO agent_documents (pk, body) SELECT agents.pk, (SELECT substr(doc.wire, 1, length(doc.wire) - 1) || ',"numbers":' || doc.numbers || ',"phoneNumbers":' || doc.numbers || '}' FROM (SELECT json_object('id', agents.id, 'name', agents.name, 'description', agents.description, 'voiceMode', agents.voice_mode, 'systemPrompt', agents.system_prompt, 'beginMessage', agents.begin_message, 'voice', agents.voice, 'modelTier', agents.model_tier, 'enableMessaging', CASE WHEN agents.enable_messaging THEN json('true') WHEN agents.enable_messaging IS NULL THEN NULL ELSE json('false') END, 'transferNumber', agents.transfer_number, 'customTools', json(agents.custom_tools), 'voicemailMessage', agents.voicemail_message, 'callScreeningIdentity', agents.call_screening_identity, 'callScreeningPurpose', agents.call_screening_purpose, 'sttMode', agents.stt_mode, 'ambientSound', agents.ambient_sound, 'denoisingMode', agents.denoising_mode, 'maxSilenceMs', agents.max_silence_ms, 'voiceSpeed', CASE WHEN agents.voice_speed IS NULL OR agents.voice_speed = CAST(printf('%!.15g', agents.voice_speed) AS REAL) THEN agents.voice_speed ELSE json(printf('%!.17g', agents.voice_speed)) END, 'interruptionSensitivity', CASE WHEN agents.interruption_sensitivity IS NULL OR agents.interruption_sensitivity = CAST(printf('%!.15g', agents.interruption_sensitivity) AS REAL) THEN agents.interruption_sensitivity ELSE json(printf('%!.17g', agents.interruption_sensitivity)) END, 'enableBackchannel', CASE WHEN agents.enable_backchannel THEN json('true') WHEN agents.enable_backchannel IS NULL THEN NULL ELSE json('false') END, 'language', agents.language, 'createdAt', CASE WHEN length(agents.created_at) = 26 THEN replace(substr(agents.created_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', agents.created_at) END, 'updatedAt', CASE WHEN length(agents.updated_at) = 26 THEN replace(substr(agents.updated_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', agents.updated_at) END) AS wire, (SELECT json_group_array(json(attached.j)) FROM (SELECT json_object('id', phone_numbers.id, 'phoneNumber', phone_numbers.phone_number, 'status', phone_numbers.status, 'type', phone_numbers.type) AS j FROM phone_numbers WHERE phone_numbers.agent_id = agents.id AND phone_numbers.status = 'active' ORDER BY phone_numbers.attached_at, phone_numbers.pk) AS attached) AS numbers) AS doc) FROM agents WHERE agents.pk = NEW.pk ON CONFLICT (pk) DO UPDATE SET body = excluded.body; END;

CREATE TRIGGER agent_documents_changed AFTER UPDATE ON agents BEGIN INSERT INTO agent_documents (pk, body) SELECT agents.pk, (SELECT substr(doc.wire, 1, length(doc.wire) - 1) || ',"numbers":' || doc.numbers || ',"phoneNumbers":' || doc.numbers || '}' FROM (SELECT json_object('id', agents.id, 'name', agents.name, 'description', agents.description, 'voiceMode', agents.voice_mode, 'systemPrompt', agents.system_prompt, 'beginMessage', agents.begin_message, 'voice', agents.voice, 'modelTier', agents.model_tier, 'enableMessaging', CASE WHEN agents.enable_messaging THEN json('true') WHEN agents.enable_messaging IS NULL THEN NULL ELSE json('false') END, 'transferNumber', agents.transfer_number, 'customTools', json(agents.custom_tools), 'voicemailMessage', agents.voicemail_message, 'callScreeningIdentity', agents.call_screening_identity, 'callScreeningPurpose', agents.call_screening_purpose, 'sttMode', agents.stt_mode, 'ambientSound', agents.ambient_sound, 'denoisingMode', agents.denoising_mode, 'maxSilenceMs', agents.max_silence_ms, 'voiceSpeed', CASE WHEN agents.voice_speed IS NULL OR agents.voice_speed = CAST(printf('%!.15g', agents.voice_speed) AS REAL) THEN agents.voice_speed ELSE json(printf('%!.17g', agents.voice_speed)) END, 'interruptionSensitivity', CASE WHEN agents.interruption_sensitivity IS NULL OR agents.interruption_sensitivity = CAST(printf('%!.15g', agents.interruption_sensitivity) AS REAL) THEN agents.interruption_sensitivity ELSE json(printf('%!.17g', agents.interruption_sensitivity)) END, 'enableBackchannel', CASE WHEN agents.enable_backchannel THEN json('true') WHEN agents.enable_backchannel IS NULL THEN NULL ELSE json('false') END, 'language', agents.language, 'createdAt', CASE WHEN length(agents.created_at) = 26 THEN replace(substr(agents.created_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', agents.created_at) END, 'updatedAt', CASE WHEN length(agents.updated_at) = 26 THEN replace(substr(agents.updated_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', agents.updated_at) END) AS wire, (SELECT json_group_array(json(attached.j)) FROM (SELECT json_object('id', phone_numbers.id, 'phoneNumber', phone_numbers.phone_number, 'status', phone_numbers.status, 'type', phone_numbers.type) AS j FROM phone_numbers WHERE phone_numbers.agent_id = agents.id AND phone_numbers.status = 'active' ORDER BY phone_numbers.attached_at, phone_numbers.pk) AS attached) AS numbers) AS doc) FROM agents WHERE agents.pk = NEW.pk ON CONFLICT (pk) DO UPDATE SET body = excluded.body; END;

CREATE TRIGGER agent_documents_removed AFTER DELETE ON agents BEGIN DELETE FROM agent_documents WHERE pk = OLD.pk; END;

CREATE TRIGGER agent_documents_phone_numbers_added AFTER INSERT ON phone_numbers WHEN (NEW.agent_id IS NOT NULL) BEGIN INSERT INTO agent_documents (pk, body) SELECT agents.pk, (SELECT substr(doc.wire, 1, length(doc.wire) - 1) || ',"numbers":' || doc.numbers || ',"phoneNumbers":' || doc.numbers || '}' FROM (SELECT json_object('id', agents.id, 'name', agents.name, 'description', agents.description, 'voiceMode', agents.voice_mode, 'systemPrompt', agents.system_prompt, 'beginMessage', agents.begin_message, 'voice', agents.voice, 'modelTier', agents.model_tier, 'enableMessaging', CASE WHEN agents.enable_messaging THEN json('true') WHEN agents.enable_messaging IS NULL THEN NULL ELSE json('false') END, 'transferNumber', agents.transfer_number, 'customTools', json(agents.custom_tools), 'voicemailMessage', agents.voicemail_message, 'callScreeningIdentity', agents.call_screening_identity, 'callScreeningPurpose', agents.call_screening_purpose, 'sttMode', agents.stt_mode, 'ambientSound', agents.ambient_sound, 'denoisingMode', agents.denoising_mode, 'maxSilenceMs', agents.max_silence_ms, 'voiceSpeed', CASE WHEN agents.voice_speed IS NULL OR agents.voice_speed = CAST(printf('%!.15g', agents.voice_speed) AS REAL) THEN agents.voice_speed ELSE json(printf('%!.17g', agents.voice_speed)) END, 'interruptionSensitivity', CASE WHEN agents.interruption_sensitivity IS NULL OR agents.interruption_sensitivity = CAST(printf('%!.15g', agents.interruption_sensitivity) AS REAL) THEN agents.interruption_sensitivity ELSE json(printf('%!.17g', agents.interruption_sensitivity)) END, 'enableBackchannel', CASE WHEN agents.enable_backchannel THEN json('true') WHEN agents.enable_backchannel IS NULL THEN NULL ELSE json('false') END, 'language', agents.language, 'createdAt', CASE WHEN length(agents.created_at) = 26 THEN replace(substr(agents.created_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', agents.created_at) END, 'updatedAt', CASE WHEN length(agents.updated_at) = 26 THEN replace(substr(agents.updated_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', agents.updated_at) END) AS wire, (SELECT json_group_array(json(attached.j)) FROM (SELECT json_object('id', phone_numbers.id, 'phoneNumber', phone_numbers.phone_number, 'status', phone_numbers.status, 'type', phone_numbers.type) AS j FROM phone_numbers WHERE phone_numbers.agent_id = agents.id AND phone_numbers.status = 'active' ORDER BY phone_numbers.attached_at, phone_numbers.pk) AS attached) AS numbers) AS doc) FROM agents WHERE agents.id = NEW.agent_id ON CONFLICT (pk) DO UPDATE SET body = excluded.body; END;

CREATE TRIGGER agent_documents_phone_numbers_changed AFTER UPDATE OF agent_id, status, phone_number, type, attached_at, id ON phone_numbers WHEN (OLD.agent_id IS NOT NULL) OR (NEW.agent_id IS NOT NULL) BEGIN INSERT INTO agent_documents (pk, body) SELECT agents.pk, (SELECT substr(doc.wire, 1, length(doc.wire) - 1) || ',"numbers":' || doc.numbers || ',"phoneNumbers":' || doc.numbers || '}' FROM (SELECT json_object('id', agents.id, 'name', agents.name, 'description', agents.description, 'voiceMode', agents.voice_mode, 'systemPrompt', agents.system_prompt, 'beginMessage', agents.begin_message, 'voice', agents.voice, 'modelTier', agents.model_tier, 'enableMessaging', CASE WHEN agents.enable_messaging THEN json('true') WHEN agents.enable_messaging IS NULL THEN NULL ELSE json('false') END, 'transferNumber', agents.transfer_number, 'customTools', json(agents.custom_tools), 'voicemailMessage', agents.voicemail_message, 'callScreeningIdentity', agents.call_screening_identity, 'callScreeningPurpose', agents.call_screening_purpose, 'sttMode', agents.stt_mode, 'ambientSound', agents.ambient_sound, 'denoisingMode', agents.denoising_mode, 'maxSilenceMs', agents.max_silence_ms, 'voiceSpeed', CASE WHEN agents.voice_speed IS NULL OR agents.voice_speed = CAST(printf('%!.15g', agents.voice_speed) AS REAL) THEN agents.voice_speed ELSE json(printf('%!.17g', agents.voice_speed)) END, 'interruptionSensitivity', CASE WHEN agents.interruption_sensitivity IS NULL OR agents.interruption_sensitivity = CAST(printf('%!.15g', agents.interruption_sensitivity) AS REAL) THEN agents.interruption_sensitivity ELSE json(printf('%!.17g', agents.interruption_sensitivity)) END, 'enableBackchannel', CASE WHEN agents.enable_backchannel THEN json('true') WHEN agents.enable_backchannel IS NULL THEN NULL ELSE json('false') END, 'language', agents.language, 'createdAt', CASE WHEN length(agents.created_at) = 26 THEN replace(substr(agents.created_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', agents.created_at) END, 'updatedAt', CASE WHEN length(agents.updated_at) = 26 THEN replace(substr(agents.updated_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', agents.updated_at) END) AS wire, (SELECT json_group_array(json(attached.j)) FROM (SELECT json_object('id', phone_numbers.id, 'phoneNumber', phone_numbers.phone_number, 'status', phone_numbers.status, 'type', phone_numbers.type) AS j FROM phone_numbers WHERE phone_numbers.agent_id = agents.id AND phone_numbers.status = 'active' ORDER BY phone_numbers.attached_at, phone_numbers.pk) AS attached) AS numbers) AS doc) FROM agents WHERE (agents.id = OLD.agent_id) OR (agents.id = NEW.agent_id) ON CONFLICT (pk) DO UPDATE SET body = excluded.body; END;

CREATE TRIGGER agent_documents_phone_numbers_removed AFTER DELETE ON phone_numbers WHEN (OLD.agent_id IS NOT NULL) BEGIN INSERT INTO agent_documents (pk, body) SELECT agents.pk, (SELECT substr(doc.wire, 1, length(doc.wire) - 1) || ',"numbers":' || doc.numbers || ',"phoneNumbers":' || doc.numbers || '}' FROM (SELECT json_object('id', agents.id, 'name', agents.name, 'description', agents.description, 'voiceMode', agents.voice_mode, 'systemPrompt', agents.system_prompt, 'beginMessage', agents.begin_message, 'voice', agents.voice, 'modelTier', agents.model_tier, 'enableMessaging', CASE WHEN agents.enable_messaging THEN json('true') WHEN agents.enable_messaging IS NULL THEN NULL ELSE json('false') END, 'transferNumber', agents.transfer_number, 'customTools', json(agents.custom_tools), 'voicemailMessage', agents.voicemail_message, 'callScreeningIdentity', agents.call_screening_identity, 'callScreeningPurpose', agents.call_screening_purpose, 'sttMode', agents.stt_mode, 'ambientSound', agents.ambient_sound, 'denoisingMode', agents.denoising_mode, 'maxSilenceMs', agents.max_silence_ms, 'voiceSpeed', CASE WHEN agents.voice_speed IS NULL OR agents.voice_speed = CAST(printf('%!.15g', agents.voice_speed) AS REAL) THEN agents.voice_speed ELSE json(printf('%!.17g', agents.voice_speed)) END, 'interruptionSensitivity', CASE WHEN agents.interruption_sensitivity IS NULL OR agents.interruption_sensitivity = CAST(printf('%!.15g', agents.interruption_sensitivity) AS REAL) THEN agents.interruption_sensitivity ELSE json(printf('%!.17g', agents.interruption_sensitivity)) END, 'enableBackchannel', CASE WHEN agents.enable_backchannel THEN json('true') WHEN agents.enable_backchannel IS NULL THEN NULL ELSE json('false') END, 'language', agents.language, 'createdAt', CASE WHEN length(agents.created_at) = 26 THEN replace(substr(agents.created_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', agents.created_at) END, 'updatedAt', CASE WHEN length(agents.updated_at) = 26 THEN replace(substr(agents.updated_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', agents.updated_at) END) AS wire, (SELECT json_group_array(json(attached.j)) FROM (SELECT json_object('id', phone_numbers.id, 'phoneNumber', phone_numbers.phone_number, 'status', phone_numbers.status, 'type', phone_numbers.type) AS j FROM phone_numbers WHERE phone_numbers.agent_id = agents.id AND phone_numbers.status = 'active' ORDER BY phone_numbers.attached_at, phone_numbers.pk) AS attached) AS numbers) AS doc) FROM agents WHERE agents.id = OLD.agent_id ON CONFLICT (pk) DO UPDATE SET body = excluded.body; END;

CREATE TRIGGER call_documents_added AFTER INSERT ON calls BEGIN INSERT INTO call_documents (pk, body) SELECT calls.pk, json_object('id', calls.id, 'agentId', calls.agent_id, 'agentName', NULL, 'phoneNumberId', calls.phone_number_id, 'phoneNumber', calls.phone_number, 'fromNumber', calls.from_number, 'toNumber', calls.to_number, 'direction', calls.direction, 'type', calls.type, 'status', calls.status, 'voice', calls.voice, 'startedAt', CASE WHEN length(calls.started_at) = 26 THEN replace(substr(calls.started_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', calls.started_at) END, 'endedAt', CASE WHEN length(calls.ended_at) = 26 THEN replace(substr(calls.ended_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', calls.ended_at) END, 'durationSeconds', calls.duration_seconds, 'lastTranscriptSnippet', calls.last_transcript_snippet, 'endReason', calls.end_reason, 'recordingUrl', NULL, 'recordingAvailable', CASE WHEN calls.recording_available THEN json('true') WHEN calls.recording_available IS NULL THEN NULL ELSE json('false') END) FROM calls WHERE calls.pk = NEW.pk ON CONFLICT (pk) DO UPDATE SET body = excluded.body; END;

CREATE TRIGGER call_documents_changed AFTER UPDATE ON calls BEGIN INSERT INTO call_documents (pk, body) SELECT calls.pk, json_object('id', calls.id, 'agentId', calls.agent_id, 'agentName', NULL, 'phoneNumberId', calls.phone_number_id, 'phoneNumber', calls.phone_number, 'fromNumber', calls.from_number, 'toNumber', calls.to_number, 'direction', calls.direction, 'type', calls.type, 'status', calls.status, 'voice', calls.voice, 'startedAt', CASE WHEN length(calls.started_at) = 26 THEN replace(substr(calls.started_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', calls.started_at) END, 'endedAt', CASE WHEN length(calls.ended_at) = 26 THEN replace(substr(calls.ended_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', calls.ended_at) END, 'durationSeconds', calls.duration_seconds, 'lastTranscriptSnippet', calls.last_transcript_snippet, 'endReason', calls.end_reason, 'recordingUrl', NULL, 'recordingAvailable', CASE WHEN calls.recording_available THEN json('true') WHEN calls.recording_available IS NULL THEN NULL ELSE json('false') END) FROM calls WHERE calls.pk = NEW.pk ON CONFLICT (pk) DO UPDATE SET body = excluded.body; END;

CREATE TRIGGER message_documents_added AFTER INSERT ON messages BEGIN INSERT INTO message_documents (pk, body) SELECT messages.pk, json_object('id', messages.id, 'from', messages.from_number, 'from_', messages.from_number, 'to', messages.to_number, 'fromNumber', messages.from_number, 'toNumber', messages.to_number, 'body', messages.body, 'direction', messages.direction, 'status', messages.status, 'channel', messages.channel, 'conversationId', messages.conversation_id, 'numberId', messages.phone_number_id, 'mediaUrl', json_extract(messages.media_urls, '$[0]'), 'mediaUrls', CASE WHEN messages.media_urls IS NULL OR messages.media_urls = 'null' THEN json('[]') ELSE json(messages.media_urls) END, 'reactions', json((SELECT json_group_array(json(tapback.j)) FROM (SELECT json_object('id', reactions.id, 'reactionType', reactions.reaction, 'fromNumber', coalesce(nullif(reactions.from_number, ''), CASE WHEN messages.direction = 'inbound' THEN messages.to_number ELSE messages.from_number END), 'direction', coalesce(nullif(reactions.direction, ''), 'outbound'), 'createdAt', CASE WHEN length(reactions.created_at) = 26 THEN replace(substr(reactions.created_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', reactions.created_at) END) AS j FROM reactions WHERE reactions.message_id = messages.id ORDER BY reactions.pk) AS tapback)), 'replyTo', NULL, 'receivedAt', CASE WHEN length(messages.received_at) = 26 THEN replace(substr(messages.received_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', messages.received_at) END, 'senderIdentifier', CASE WHEN messages.direction = 'inbound' THEN messages.from_number END) FROM messages WHERE messages.pk = NEW.pk ON CONFLICT (pk) DO UPDATE SET body = excluded.body; END;

CREATE TRIGGER message_documents_changed AFTER UPDATE ON messages BEGIN INSERT INTO message_documents (pk, body) SELECT messages.pk, json_object('id', messages.id, 'from', messages.from_number, 'from_', messages.from_number, 'to', messages.to_number, 'fromNumber', messages.from_number, 'toNumber', messages.to_number, 'body', messages.body, 'direction', messages.direction, 'status', messages.status, 'channel', messages.channel, 'conversationId', messages.conversation_id, 'numberId', messages.phone_number_id, 'mediaUrl', json_extract(messages.media_urls, '$[0]'), 'mediaUrls', CASE WHEN messages.media_urls IS NULL OR messages.media_urls = 'null' THEN json('[]') ELSE json(messages.media_urls) END, 'reactions', json((SELECT json_group_array(json(tapback.j)) FROM (SELECT json_object('id', reactions.id, 'reactionType', reactions.reaction, 'fromNumber', coalesce(nullif(reactions.from_number, ''), CASE WHEN messages.direction = 'inbound' THEN messages.to_number ELSE messages.from_number END), 'direction', coalesce(nullif(reactions.direction, ''), 'outbound'), 'createdAt', CASE WHEN length(reactions.created_at) = 26 THEN replace(substr(reactions.created_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', reactions.created_at) END) AS j FROM reactions WHERE reactions.message_id = messages.id ORDER BY reactions.pk) AS tapback)), 'replyTo', NULL, 'receivedAt', CASE WHEN length(messages.received_at) = 26 THEN replace(substr(messages.received_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', messages.received_at) END, 'senderIdentifier', CASE WHEN messages.direction = 'inbound' THEN messages.from_number END) FROM messages WHERE messages.pk = NEW.pk ON CONFLICT (pk) DO UPDATE SET body = excluded.body; END;

CREATE TRIGGER message_documents_reactions_added AFTER INSERT ON reactions BEGIN INSERT INTO message_documents (pk, body) SELECT messages.pk, json_object('id', messages.id, 'from', messages.from_number, 'from_', messages.from_number, 'to', messages.to_number, 'fromNumber', messages.from_number, 'toNumber', messages.to_number, 'body', messages.body, 'direction', messages.direction, 'status', messages.status, 'channel', messages.channel, 'conversationId', messages.conversation_id, 'numberId', messages.phone_number_id, 'mediaUrl', json_extract(messages.media_urls, '$[0]'), 'mediaUrls', CASE WHEN messages.media_urls IS NULL OR messages.media_urls = 'null' THEN json('[]') ELSE json(messages.media_urls) END, 'reactions', json((SELECT json_group_array(json(tapback.j)) FROM (SELECT json_object('id', reactions.id, 'reactionType', reactions.reaction, 'fromNumber', coalesce(nullif(reactions.from_number, ''), CASE WHEN messages.direction = 'inbound' THEN messages.to_number ELSE messages.from_number END), 'direction', coalesce(nullif(reactions.direction, ''), 'outbound'), 'createdAt', CASE WHEN length(reactions.created_at) = 26 THEN replace(substr(reactions.created_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', reactions.created_at) END) AS j FROM reactions WHERE reactions.message_id = messages.id ORDER BY reactions.pk) AS tapback)), 'replyTo', NULL, 'receivedAt', CASE WHEN length(messages.received_at) = 26 THEN replace(substr(messages.received_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', messages.received_at) END, 'senderIdentifier', CASE WHEN messages.direction = 'inbound' THEN messages.from_number END) FROM messages WHERE messages.id = NEW.message_id ON CONFLICT (pk) DO UPDATE SET body = excluded.body; END;

CREATE TRIGGER message_documents_reactions_changed AFTER UPDATE ON reactions BEGIN INSERT INTO message_documents (pk, body) SELECT messages.pk, json_object('id', messages.id, 'from', messages.from_number, 'from_', messages.from_number, 'to', messages.to_number, 'fromNumber', messages.from_number, 'toNumber', messages.to_number, 'body', messages.body, 'direction', messages.direction, 'status', messages.status, 'channel', messages.channel, 'conversationId', messages.conversation_id, 'numberId', messages.phone_number_id, 'mediaUrl', json_extract(messages.media_urls, '$[0]'), 'mediaUrls', CASE WHEN messages.media_urls IS NULL OR messages.media_urls = 'null' THEN json('[]') ELSE json(messages.media_urls) END, 'reactions', json((SELECT json_group_array(json(tapback.j)) FROM (SELECT json_object('id', reactions.id, 'reactionType', reactions.reaction, 'fromNumber', coalesce(nullif(reactions.from_number, ''), CASE WHEN messages.direction = 'inbound' THEN messages.to_number ELSE messages.from_number END), 'direction', coalesce(nullif(reactions.direction, ''), 'outbound'), 'createdAt', CASE WHEN length(reactions.created_at) = 26 THEN replace(substr(reactions.created_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', reactions.created_at) END) AS j FROM reactions WHERE reactions.message_id = messages.id ORDER BY reactions.pk) AS tapback)), 'replyTo', NULL, 'receivedAt', CASE WHEN length(messages.received_at) = 26 THEN replace(substr(messages.received_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', messages.received_at) END, 'senderIdentifier', CASE WHEN messages.direction = 'inbound' THEN messages.from_number END) FROM messages WHERE (messages.id = OLD.message_id) OR (messages.id = NEW.message_id) ON CONFLICT (pk) DO UPDATE SET body = excluded.body; END;

CREATE TRIGGER message_documents_reactions_removed AFTER DELETE ON reactions BEGIN INSERT INTO message_documents (pk, body) SELECT messages.pk, json_object('id', messages.id, 'from', messages.from_number, 'from_', messages.from_number, 'to', messages.to_number, 'fromNumber', messages.from_number, 'toNumber', messages.to_number, 'body', messages.body, 'direction', messages.direction, 'status', messages.status, 'channel', messages.channel, 'conversationId', messages.conversation_id, 'numberId', messages.phone_number_id, 'mediaUrl', json_extract(messages.media_urls, '$[0]'), 'mediaUrls', CASE WHEN messages.media_urls IS NULL OR messages.media_urls = 'null' THEN json('[]') ELSE json(messages.media_urls) END, 'reactions', json((SELECT json_group_array(json(tapback.j)) FROM (SELECT json_object('id', reactions.id, 'reactionType', reactions.reaction, 'fromNumber', coalesce(nullif(reactions.from_number, ''), CASE WHEN messages.direction = 'inbound' THEN messages.to_number ELSE messages.from_number END), 'direction', coalesce(nullif(reactions.direction, ''), 'outbound'), 'createdAt', CASE WHEN length(reactions.created_at) = 26 THEN replace(substr(reactions.created_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', reactions.created_at) END) AS j FROM reactions WHERE reactions.message_id = messages.id ORDER BY reactions.pk) AS tapback)), 'replyTo', NULL, 'receivedAt', CASE WHEN length(messages.received_at) = 26 THEN replace(substr(messages.received_at, 1, 23), ' ', 'T') || 'Z' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', messages.received_at) END, 'senderIdentifier', CASE WHEN messages.direction = 'inbound' THEN messages.from_number END) FROM messages WHERE messages.id = OLD.message_id ON CONFLICT (pk) DO UPDATE SET body = excluded.body; END;

INSERT INTO store_meta (name, value) VALUES ('documents', '07dbbcc08836b1d1');
