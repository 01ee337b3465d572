"""The alerts stage: route developments to receivers, group them, deliver them exactly once.

Decisions are pure and take an injected clock (``Router``, ``Grouper``, ``release_at``,
``SilenceMatcher``, ``Pace``); channels (``SlackNotifier``, ``EmailNotifier``, ``WebhookNotifier``,
``ConsoleNotifier``) are thin I/O; ``DeliveryLog`` is the durable state; ``AlertStage`` wires them.
"""
