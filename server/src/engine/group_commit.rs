//! Group commit: the writes of many concurrent callers in one transaction.
//!
//! SQLite has one writer, and at load its cost is per transaction and per statement (each is a
//! round trip to the connection's thread, and each commit appends the pages it touched to the
//! WAL), not per row. So when many tasks want to write the same kind of record at once, the first
//! to find no batch being written writes every record queued so far, and the ones that arrive
//! meanwhile queue up and go together as the next batch. Alone, a caller writes at once: the
//! batching adds no wait, it only collects what already waits.
//!
//! There is no background task, so nothing to start or drain at shutdown: whoever waits is the
//! writer. A writer cancelled mid-batch drops the batch's answers; its callers see `None` and
//! treat the write as not made (the outbox's leases make that safe).

use std::future::Future;
use std::sync::Mutex;

use tokio::sync::oneshot;

pub struct GroupCommit<I, O> {
    queue: Mutex<Vec<(I, oneshot::Sender<O>)>>,
    writing: tokio::sync::Mutex<()>,
}

impl<I, O> Default for GroupCommit<I, O> {
    fn default() -> Self {
        Self {
            queue: Mutex::new(Vec::new()),
            writing: tokio::sync::Mutex::new(()),
        }
    }
}

impl<I, O> GroupCommit<I, O> {
    /// Queues `item` and waits for its result. If no batch is being written when this caller's
    /// turn comes, it writes the whole queue with `write`, which must answer each item in order.
    /// `None` if the batch with this item was abandoned, or `write` gave fewer answers.
    pub async fn submit<F, Fut>(&self, item: I, write: F) -> Option<O>
    where
        F: FnOnce(Vec<I>) -> Fut,
        Fut: Future<Output = Vec<O>>,
    {
        let (tx, mut rx) = oneshot::channel();
        super::unpoison(self.queue.lock()).push((item, tx));
        let turn = self.writing.lock().await;
        match rx.try_recv() {
            Ok(answer) => return Some(answer),
            Err(oneshot::error::TryRecvError::Closed) => return None,
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        let batch = std::mem::take(&mut *super::unpoison(self.queue.lock()));
        let (items, answers): (Vec<I>, Vec<oneshot::Sender<O>>) = batch.into_iter().unzip();
        let results = write(items).await;
        for (answer, result) in answers.into_iter().zip(results) {
            let _ = answer.send(result);
        }
        drop(turn);
        rx.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_lone_caller_writes_its_own_batch_of_one() {
        let group: GroupCommit<u32, u32> = GroupCommit::default();
        let got = group
            .submit(7, |items| async move {
                assert_eq!(items, vec![7]);
                items.into_iter().map(|i| i * 2).collect()
            })
            .await;
        assert_eq!(got, Some(14));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn callers_that_arrive_during_a_write_share_the_next_batch() {
        let group: Arc<GroupCommit<u32, u32>> = Arc::new(GroupCommit::default());
        let batches = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let (started_tx, started_rx) = oneshot::channel::<()>();
        let (release_tx, release_rx) = oneshot::channel::<()>();
        // The first write holds the writer's turn until released, so the others queue behind it.
        let first = {
            let (group, batches) = (group.clone(), batches.clone());
            tokio::spawn(async move {
                group
                    .submit(0, |items| async move {
                        let _ = started_tx.send(());
                        let _ = release_rx.await;
                        push(&batches, items.clone());
                        items.into_iter().map(|i| i + 100).collect()
                    })
                    .await
            })
        };
        assert!(started_rx.await.is_ok(), "the first write started");
        let mut others = Vec::new();
        for n in 1..=5u32 {
            let (group, batches) = (group.clone(), batches.clone());
            others.push(tokio::spawn(async move {
                group
                    .submit(n, |items| async move {
                        push(&batches, items.clone());
                        items.into_iter().map(|i| i + 100).collect()
                    })
                    .await
            }));
        }
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while super::super::unpoison(group.queue.lock()).len() < 5 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the callers never queued"
            );
            tokio::task::yield_now().await;
        }
        let _ = release_tx.send(());
        assert_eq!(first.await.ok().flatten(), Some(100));
        for (n, h) in others.into_iter().enumerate() {
            assert_eq!(h.await.ok().flatten(), Some(n as u32 + 101));
        }
        let batches = super::super::unpoison(batches.lock()).clone();
        assert_eq!(batches.len(), 2, "{batches:?}");
        assert_eq!(batches[0], vec![0]);
        let mut second = batches[1].clone();
        second.sort_unstable();
        assert_eq!(second, vec![1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn a_short_answer_leaves_the_rest_without_one() {
        let group: GroupCommit<u32, u32> = GroupCommit::default();
        let got = group.submit(1, |_| async move { Vec::new() }).await;
        assert_eq!(got, None);
    }

    fn push(batches: &Mutex<Vec<Vec<u32>>>, items: Vec<u32>) {
        super::super::unpoison(batches.lock()).push(items);
    }
}
