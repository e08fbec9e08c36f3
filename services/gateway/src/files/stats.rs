//! Download counts: every public download that begins at a file's first byte is counted in
//! memory and written every few seconds (and at shutdown) as one row per paper, file and day,
//! added to what other replicas wrote; `imprint.gateway.v1.DownloadStatsService` reads them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use imprint_domain::{FileKey, PaperId, Violations};
use imprint_platform::{Database, ServiceError};
use imprint_proto::gateway::download_stats_service_server::DownloadStatsService;
use imprint_proto::gateway::{
    DailyDownloads, FileDownloads, GetDownloadStatsRequest, GetDownloadStatsResponse,
};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::entity::download;

/// How often counts reach the database.
const FLUSH_EVERY: Duration = Duration::from_secs(2);
/// The longest range asked for at once.
const MAX_DAYS: i64 = 366;
/// The range when none is asked for.
const DEFAULT_DAYS: i64 = 30;
/// The format of days, in rows and in the API.
const DAY: &str = "%Y-%m-%d";

/// Downloads not yet written, by paper, file and day.
type Pending = HashMap<(uuid::Uuid, String, String), i64>;

/// Counts downloads.
#[derive(Debug, Clone)]
pub struct Downloads {
    db: Database,
    pending: Arc<Mutex<Pending>>,
}

impl Downloads {
    /// Counts kept in `db`.
    pub fn new(db: Database) -> Self {
        Self {
            db,
            pending: Arc::default(),
        }
    }

    /// Counts one download of `file` of `paper`, today.
    pub fn count(&self, paper: PaperId, file: &FileKey) {
        let day = Utc::now().format(DAY).to_string();
        if let Ok(mut pending) = self.pending.lock() {
            *pending
                .entry((paper.as_uuid(), file.hex(), day))
                .or_default() += 1;
        }
    }

    /// Writes what was counted every [`FLUSH_EVERY`], and once more at `stop`.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            let stopping = tokio::select! {
                () = stop.cancelled() => true,
                () = tokio::time::sleep(FLUSH_EVERY) => false,
            };
            if let Err(e) = self.flush().await {
                tracing::warn!(error = %e, "could not write download counts; kept for the next try");
            }
            if stopping {
                return;
            }
        }
    }

    /// Writes the pending counts, added to the stored ones; on failure they stay pending.
    pub async fn flush(&self) -> Result<(), DbErr> {
        let taken: Pending = match self.pending.lock() {
            Ok(mut pending) => std::mem::take(&mut *pending),
            Err(_) => return Ok(()),
        };
        if taken.is_empty() {
            return Ok(());
        }
        let rows: Vec<download::ActiveModel> = taken
            .iter()
            .map(|((paper, file, day), count)| download::ActiveModel {
                paper_id: Set(*paper),
                file_key: Set(file.clone()),
                day: Set(day.clone()),
                count: Set(*count),
            })
            .collect();
        let tx = self.db.begin_write().await?;
        let added = Expr::col((download::Entity, download::Column::Count))
            .add(Expr::cust("excluded.count"));
        let result = download::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::columns([
                    download::Column::PaperId,
                    download::Column::FileKey,
                    download::Column::Day,
                ])
                .value(download::Column::Count, added)
                .to_owned(),
            )
            .exec_without_returning(&*tx)
            .await
            .map(drop);
        let result = tx.finish(result).await;
        if result.is_err()
            && let Ok(mut pending) = self.pending.lock()
        {
            for (k, n) in taken {
                *pending.entry(k).or_default() += n;
            }
        }
        result
    }

    /// The downloads of `paper` from `start` to `end`, inclusive.
    async fn stats(
        &self,
        paper: PaperId,
        start: NaiveDate,
        end: NaiveDate,
    ) -> Result<GetDownloadStatsResponse, DbErr> {
        let rows = download::Entity::find()
            .filter(download::Column::PaperId.eq(paper.as_uuid()))
            .filter(download::Column::Day.gte(start.format(DAY).to_string()))
            .filter(download::Column::Day.lte(end.format(DAY).to_string()))
            .order_by_asc(download::Column::Day)
            .all(self.db.conn())
            .await?;
        let mut files: Vec<FileDownloads> = Vec::new();
        for row in rows {
            let key = FileKey::parse(&row.file_key)
                .map(|k| k.to_string())
                .unwrap_or(row.file_key);
            let at = match files.iter().position(|f| f.file_key == key) {
                Some(at) => at,
                None => {
                    files.push(FileDownloads {
                        file_key: key,
                        ..FileDownloads::default()
                    });
                    files.len() - 1
                }
            };
            files[at].total += row.count;
            files[at].days.push(DailyDownloads {
                date: row.day,
                count: row.count,
            });
        }
        files.sort_by(|a, b| b.total.cmp(&a.total).then(a.file_key.cmp(&b.file_key)));
        Ok(GetDownloadStatsResponse {
            total: files.iter().map(|f| f.total).sum(),
            files,
            start_date: start.format(DAY).to_string(),
            end_date: end.format(DAY).to_string(),
        })
    }
}

/// The range a request asks for, each bad field named.
fn range(request: &GetDownloadStatsRequest) -> Result<(PaperId, NaiveDate, NaiveDate), Violations> {
    let mut v = Violations::new();
    let paper = v.check("paper_id", PaperId::parse(&request.paper_id));
    let day = |v: &mut Violations, field: &str, text: &str| {
        if text.trim().is_empty() {
            return None;
        }
        v.check(
            field,
            NaiveDate::parse_from_str(text.trim(), DAY).map_err(|_| {
                format!(
                    "'{}' is not a day: use YYYY-MM-DD",
                    imprint_domain::shorten(text)
                )
            }),
        )
    };
    let end = day(&mut v, "end_date", &request.end_date).unwrap_or_else(|| Utc::now().date_naive());
    let start = day(&mut v, "start_date", &request.start_date)
        .unwrap_or_else(|| end - chrono::Duration::days(DEFAULT_DAYS - 1));
    if start > end {
        v.push("start_date", "must not be after end_date");
    } else if (end - start).num_days() >= MAX_DAYS {
        v.push("start_date", format!("a range is at most {MAX_DAYS} days"));
    }
    match paper {
        Some(paper) => v.into_result(|| (paper, start, end)),
        None => Err(v),
    }
}

/// `imprint.gateway.v1.DownloadStatsService`.
#[derive(Debug, Clone)]
pub struct DownloadStatsGrpc {
    downloads: Downloads,
}

impl DownloadStatsGrpc {
    /// The service over `downloads`.
    pub fn new(downloads: Downloads) -> Self {
        Self { downloads }
    }
}

#[tonic::async_trait]
impl DownloadStatsService for DownloadStatsGrpc {
    async fn get_download_stats(
        &self,
        request: Request<GetDownloadStatsRequest>,
    ) -> Result<Response<GetDownloadStatsResponse>, Status> {
        let (paper, start, end) = range(request.get_ref()).map_err(ServiceError::Invalid)?;
        // What this replica counted last is included.
        self.downloads.flush().await.map_err(ServiceError::from)?;
        let stats = self
            .downloads
            .stats(paper, start, end)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(stats))
    }
}
