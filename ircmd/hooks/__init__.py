"""Hooks: deliveries of events to webhooks, Slack-format receivers, mail and commands.

`base` holds what every sender shares (the delivery handed to it, its outcome, the
readable text); each kind has its own module (`webhook`, `slack`, `email`,
`command`); `outbox` queues deliveries in the writer's transaction and `deliverer`
sends them.
"""
