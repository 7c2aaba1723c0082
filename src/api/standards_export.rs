//! The exports in others' standards behind `ReportService` (`ExportIatiActivities`,
//! `ExportHtcdsCaseRecords`): their producers, run by `streaming::spawn_stream` under a report
//! slot like every report (bounded channel, the stream's idle and deadline limits, a client's
//! leaving stops the producer and ends its snapshot). The IATI document is written grant by
//! grant as it is read, so memory holds one chunk of grants and one message of XML, never the
//! document. HTCDS records are counted by combination (memory grows with the distinct
//! combinations, not the cases), released k-anonymous, and the export is audited before any
//! record leaves, as a read of personal data is.

use super::streaming::{MessageStream, StreamBudget, spawn_stream};
use crate::domain::access::Scope;
use crate::domain::fiscal_year::FiscalCalendar;
use crate::domain::htcds::{COLUMNS, HtcdsExport, HtcdsRecord};
use crate::domain::iati::{
    ActivityContext, FiscalYears, Publisher, document_end, document_start, write_activity,
};
use crate::error::Result;
use crate::pb::v1 as pb;
use crate::pb::v1::export_htcds_case_records_response::Part;
use crate::settings::IatiSettings;
use crate::store::Store;

/// Messages of one export waiting in memory at most.
const STREAM_CAPACITY: usize = 16;
/// Grants read from the database at once (with their projects, money and results).
const GRANT_CHUNK: u64 = 50;
/// A message carries whole activities up to about this many bytes (one larger activity goes
/// alone).
const MESSAGE_BYTES: usize = 1024 * 1024;
/// Cases read from the database at once.
const CASE_CHUNK: u64 = 2_000;

/// The office as the `[iati]` settings describe it.
pub fn publisher(settings: &IatiSettings) -> Publisher {
    Publisher {
        identifier: settings.organization_identifier.clone(),
        name: settings.organization_name.clone(),
        organization_type: settings.organization_type,
    }
}

/// What an IATI export needs besides its request.
pub struct IatiExportJob {
    pub store: Store,
    pub scope: Scope,
    pub publisher: Publisher,
    pub calendar: FiscalCalendar,
    pub years: FiscalYears,
    pub k: i64,
}

/// The IATI document as a stream of XML chunks, holding `slot` until it ends.
pub fn stream_iati<H: Send + 'static>(
    job: IatiExportJob,
    budget: StreamBudget,
    slot: H,
) -> MessageStream<pb::ExportIatiActivitiesResponse> {
    spawn_stream(budget, STREAM_CAPACITY, slot, move |sender| async move {
        let IatiExportJob {
            store,
            scope,
            publisher,
            calendar,
            years,
            k,
        } = job;
        let (from, to) = years.dates(calendar);
        let mut grants = store.iati_activities(&scope, from, to).await?;
        let context = ActivityContext {
            publisher: &publisher,
            calendar,
            years,
            k,
            today: grants.as_of.date_naive(),
        };
        let mut xml = document_start(grants.as_of)?;
        let mut activity_count = 0;
        while let Some(chunk) = grants.next_chunk(GRANT_CHUNK).await? {
            for activity in &chunk {
                let bytes = write_activity(activity, &context)?;
                if activity_count > 0 && xml.len() + bytes.len() > MESSAGE_BYTES {
                    let full = std::mem::take(&mut xml);
                    sender
                        .send(pb::ExportIatiActivitiesResponse {
                            xml: full,
                            activity_count,
                        })
                        .await?;
                    activity_count = 0;
                }
                xml.extend_from_slice(&bytes);
                activity_count += 1;
            }
        }
        // The snapshot ends before the last message waits for the client.
        drop(grants);
        xml.extend_from_slice(&document_end());
        sender
            .send(pb::ExportIatiActivitiesResponse {
                xml,
                activity_count,
            })
            .await?;
        Ok(())
    })
}

/// The HTCDS records of the cases referred in `years`, k-anonymous for `k`, holding `slot`
/// until the stream ends. The caller has audited the export already.
pub fn stream_htcds<H: Send + 'static>(
    store: Store,
    years: FiscalYears,
    k: i64,
    budget: StreamBudget,
    slot: H,
) -> MessageStream<pb::ExportHtcdsCaseRecordsResponse> {
    spawn_stream(budget, STREAM_CAPACITY, slot, move |sender| async move {
        let mut cases = store.case_profiles(years.from, years.to).await?;
        let mut export = HtcdsExport::default();
        while let Some(chunk) = cases.next_chunk(CASE_CHUNK).await? {
            chunk.iter().for_each(|case| export.add(case));
        }
        drop(cases);
        let release = export.release(k);
        let header = pb::HtcdsExportHeader {
            k_anonymity: i32::try_from(k).unwrap_or(i32::MAX),
            generalized_fields: release
                .generalised
                .iter()
                .map(|field| field.to_string())
                .collect(),
            records_released: release.released,
            records_withheld: release.withheld,
        };
        let message = |part| pb::ExportHtcdsCaseRecordsResponse { part: Some(part) };
        sender.send(message(Part::Header(header))).await?;
        for (record, record_count) in release.groups {
            let group = pb::HtcdsCaseRecordGroup {
                record: Some(record_to_proto(record)),
                record_count,
            };
            sender.send(message(Part::Records(group))).await?;
        }
        Ok(())
    })
}

fn record_to_proto(record: HtcdsRecord) -> pb::HtcdsCaseRecord {
    pb::HtcdsCaseRecord {
        gender: record.gender,
        age_band: record.age_band,
        nationality: record.nationality,
        types_of_exploitation: record.types_of_exploitation,
        year_of_registration: record.year_of_registration.unwrap_or(0),
        services_received: record.services_received,
    }
}

/// The fields an HTCDS export reads of each case, as its audit event names them.
pub fn audited_fields() -> &'static [&'static str] {
    &COLUMNS
}

/// Reads the optional fiscal years of an export request (every bad field at once).
pub fn parse_years(from_fiscal_year: i32, to_fiscal_year: i32) -> Result<FiscalYears> {
    let (from, to) = crate::domain::report::check_optional_years(from_fiscal_year, to_fiscal_year)?;
    Ok(FiscalYears { from, to })
}
