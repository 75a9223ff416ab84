"""What people read: Slack Block Kit cards, phone TwiML, PagerDuty notes. Pure rendering, no I/O."""
