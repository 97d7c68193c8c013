"""fangxun.response: contingency plans (预案), emergency response levels IV → I started by decision
or proposed / started by rule from rainstorm signals, the action checklist each level creates, and
the tasks point plans (一点一策) create when their triggers are met. See ``README.md`` here."""
