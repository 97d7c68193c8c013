"""Notifications: recipients, a transactional outbox, channels (webhook, WeCom, DingTalk, e-mail),
a sender with retries, acknowledgement by link or API, and escalation to the leader on duty."""
