"""The review session: what the window shows, decided without Qt.

- `review.Review`: the batch of photos, each photo's state, the user's decisions, when a photo
  is ranked again, and what the pipeline is asked (through a task runner, off the GUI thread).
- `store.SessionStore`: the batch, caption edits, chip order and recent folders in a small
  SQLite file in the app's data folder, saved as they change and restored on the next start.
- `tasks`: the task-runner protocol (Picard's run_task) and a synchronous runner.

Nothing here imports Qt: the controller is tested on its own (tests/ui/test_review.py).
"""
