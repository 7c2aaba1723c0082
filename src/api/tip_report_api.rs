//! `tipgrants.v1.TipReportService`: TIP Report rankings and recommendations
//! under `countries/{alpha2}`. Lists take `countries/-` for every country;
//! their page tokens are bound to the parent and the filter.

use tonic::{Request, Response, Status};

use super::enums::*;
use super::paging;
use super::{
    Idempotency, call_context, etag, filter_code, mask_paths, parse_etag, timestamp,
    with_request_id,
};
use crate::domain::pillar::Pillar;
use crate::domain::tip_report::{
    self, Countries, TipRanking, TipRecommendation, TipRecommendationInput, TipTier,
};
use crate::domain::validate::Violations;
use crate::error::{Error, FieldViolation, Result};
use crate::pb::v1 as pb;
use crate::pb::v1::tip_report_service_server::TipReportService;
use crate::store::Store;
use crate::store::tip_report::{TipRankingFilter, TipRecommendationFilter};

/// Serves the TIP Report data.
pub struct TipReportApi {
    store: Store,
}

impl TipReportApi {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

const RANKING_UPDATABLE: &[&str] = &["tier"];
const RECOMMENDATION_UPDATABLE: &[&str] = &["report_year", "pillar", "text"];

fn invalid(violation: FieldViolation) -> Error {
    Error::InvalidArgument(vec![violation])
}

/// Adds the field violations of `result` to `violations`, keeping its value when valid.
fn collect<T>(violations: &mut Violations, result: Result<T>) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(Error::InvalidArgument(found)) => {
            for violation in found {
                violations.add(violation.field, violation.description);
            }
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

fn tier_to_proto(tier: TipTier) -> pb::TipTier {
    match tier {
        TipTier::Tier1 => pb::TipTier::TipTier1,
        TipTier::Tier2 => pb::TipTier::TipTier2,
        TipTier::Tier2WatchList => pb::TipTier::TipTier2WatchList,
        TipTier::Tier3 => pb::TipTier::TipTier3,
        TipTier::SpecialCase => pb::TipTier::SpecialCase,
    }
}

fn tier_from_proto(value: i32) -> Option<TipTier> {
    match pb::TipTier::try_from(value).ok()? {
        pb::TipTier::Unspecified => None,
        pb::TipTier::TipTier1 => Some(TipTier::Tier1),
        pb::TipTier::TipTier2 => Some(TipTier::Tier2),
        pb::TipTier::TipTier2WatchList => Some(TipTier::Tier2WatchList),
        pb::TipTier::TipTier3 => Some(TipTier::Tier3),
        pb::TipTier::SpecialCase => Some(TipTier::SpecialCase),
    }
}

/// The proto form of a ranking.
pub fn ranking_to_proto(ranking: &TipRanking) -> pb::TipRanking {
    pb::TipRanking {
        name: ranking.resource_name(),
        country_code: ranking.country_code.clone(),
        report_year: ranking.report_year,
        tier: tier_to_proto(ranking.fields.tier) as i32,
        create_time: Some(timestamp(ranking.create_time)),
        update_time: Some(timestamp(ranking.update_time)),
        etag: etag(ranking.revision),
    }
}

/// The proto form of a recommendation.
pub fn recommendation_to_proto(recommendation: &TipRecommendation) -> pb::TipRecommendation {
    pb::TipRecommendation {
        name: recommendation.resource_name(),
        country_code: recommendation.country_code.clone(),
        report_year: recommendation.report_year,
        pillar: pillar_to_proto(recommendation.pillar),
        text: recommendation.text.clone(),
        create_time: Some(timestamp(recommendation.create_time)),
        update_time: Some(timestamp(recommendation.update_time)),
        delete_time: recommendation.delete_time.map(timestamp),
        etag: etag(recommendation.revision),
    }
}

fn input(recommendation: &pb::TipRecommendation) -> TipRecommendationInput<'_> {
    TipRecommendationInput {
        report_year: recommendation.report_year,
        pillar: pillar_from_proto(recommendation.pillar),
        text: &recommendation.text,
    }
}

fn filter_year(value: &str) -> Result<i32> {
    value.parse::<i32>().map_err(|_| {
        Error::invalid(
            "filter",
            format!("report_year {value:?} is not a year such as 2014"),
        )
    })
}

fn filter_region(value: &str) -> String {
    value.trim_start_matches("regions/").to_ascii_uppercase()
}

fn parse_ranking_filter(filter: &str) -> Result<TipRankingFilter> {
    let mut parsed = TipRankingFilter::default();
    for (field, value) in paging::parse_filter(filter, &["report_year", "tier", "region"])? {
        match field.as_str() {
            "report_year" => parsed.report_year = Some(filter_year(&value)?),
            "tier" => {
                parsed.tier = Some(TipTier::from_code(&value).ok_or_else(|| {
                    Error::invalid(
                        "filter",
                        format!("tier {value:?} is not TIER_1, TIER_2, TIER_2_WATCH_LIST, TIER_3 or SPECIAL_CASE"),
                    )
                })?)
            }
            _ => parsed.region_code = Some(filter_region(&value)),
        }
    }
    Ok(parsed)
}

fn parse_recommendation_filter(filter: &str) -> Result<TipRecommendationFilter> {
    let mut parsed = TipRecommendationFilter::default();
    for (field, value) in paging::parse_filter(filter, &["report_year", "pillar", "region"])? {
        match field.as_str() {
            "report_year" => parsed.report_year = Some(filter_year(&value)?),
            "pillar" => {
                parsed.pillar = Some(filter_code(
                    &value,
                    "PILLAR_",
                    Pillar::from_code,
                    "pillar: PROSECUTION, PROTECTION, PREVENTION or PARTNERSHIP",
                )?)
            }
            _ => parsed.region_code = Some(filter_region(&value)),
        }
    }
    Ok(parsed)
}

impl TipReportApi {
    /// The country code of a list's parent (`None` for `countries/-`); a named country must exist.
    async fn list_parent(&self, parent: &str) -> Result<(Countries, Option<String>)> {
        let countries = tip_report::parse_countries("parent", parent).map_err(invalid)?;
        let code = match &countries {
            Countries::All => None,
            Countries::One(code) => Some(self.store.get_country(code).await?.alpha2),
        };
        Ok((countries, code))
    }

    /// Checks that a region filter names a known region.
    async fn require_region(&self, region_code: Option<&str>) -> Result<()> {
        let Some(region_code) = region_code else {
            return Ok(());
        };
        match self.store.get_region(region_code).await {
            Ok(_) => Ok(()),
            Err(Error::NotFound { .. }) => Err(Error::invalid(
                "filter",
                format!("region {region_code:?} is not a known region code such as AF or WHA"),
            )),
            Err(other) => Err(other),
        }
    }
}

#[tonic::async_trait]
impl TipReportService for TipReportApi {
    async fn create_tip_ranking(
        &self,
        request: Request<pb::CreateTipRankingRequest>,
    ) -> Result<Response<pb::TipRanking>, Status> {
        let call = call_context(&request)?;
        let request = request.into_inner();
        let idempotency = Idempotency::of(&request.request_id, &request)?;
        let mut violations = Violations::new();
        let country = violations.check(tip_report::parse_country("parent", &request.parent));
        let report_year =
            violations.check(tip_report::report_year("report_year", request.report_year));
        let fields = match &request.tip_ranking {
            Some(ranking) => violations.check(tip_report::ranking_fields(
                "tip_ranking",
                tier_from_proto(ranking.tier),
            )),
            None => {
                violations.add("tip_ranking", "is required");
                None
            }
        };
        violations.finish()?;
        let (Some(country), Some(report_year), Some(fields)) = (country, report_year, fields)
        else {
            return Err(Error::Internal("validated ranking without values".into()).into());
        };

        let write_call = with_request_id(call, &request.request_id);
        let answer = Idempotency::write(&idempotency, &self.store, &write_call, async |tx| {
            let created = tx.create_tip_ranking(&country, report_year, fields).await?;
            Ok(ranking_to_proto(&created))
        })
        .await?;
        Ok(Response::new(answer))
    }

    async fn get_tip_ranking(
        &self,
        request: Request<pb::GetTipRankingRequest>,
    ) -> Result<Response<pb::TipRanking>, Status> {
        call_context(&request)?;
        let (country, report_year) =
            tip_report::parse_ranking_name("name", &request.get_ref().name).map_err(invalid)?;
        let ranking = self.store.get_tip_ranking(&country, report_year).await?;
        Ok(Response::new(ranking_to_proto(&ranking)))
    }

    async fn list_tip_rankings(
        &self,
        request: Request<pb::ListTipRankingsRequest>,
    ) -> Result<Response<pb::ListTipRankingsResponse>, Status> {
        call_context(&request)?;
        let request = request.get_ref();
        let (countries, country_code) = self.list_parent(&request.parent).await?;
        let mut filter = parse_ranking_filter(&request.filter)?;
        filter.country_code = country_code;
        self.require_region(filter.region_code.as_deref()).await?;
        let query = format!("{}|{}", countries.parent(), request.filter);
        let after = paging::decode_token(&request.page_token, &query)?;
        let size = paging::page_size(request.page_size)?;
        let page = self.store.list_tip_rankings(&filter, after, size).await?;
        Ok(Response::new(pb::ListTipRankingsResponse {
            tip_rankings: page.items.iter().map(ranking_to_proto).collect(),
            next_page_token: paging::encode_token(page.next_after, &query),
        }))
    }

    async fn update_tip_ranking(
        &self,
        request: Request<pb::UpdateTipRankingRequest>,
    ) -> Result<Response<pb::TipRanking>, Status> {
        let call = call_context(&request)?;
        let request = request.into_inner();
        let changes = request
            .tip_ranking
            .ok_or_else(|| Error::invalid("tip_ranking", "is required"))?;
        let (country, report_year) =
            tip_report::parse_ranking_name("tip_ranking.name", &changes.name).map_err(invalid)?;
        let expected = parse_etag("tip_ranking.etag", &changes.etag)?;
        // `tier` is the only field that may change, so a valid mask always names it.
        mask_paths(request.update_mask.as_ref(), RANKING_UPDATABLE)?;
        let fields = tip_report::ranking_fields("tip_ranking", tier_from_proto(changes.tier))
            .map_err(invalid)?;

        let mut tx = self.store.begin(&call).await?;
        let current = tx
            .tip_ranking_for_update(&country, report_year, expected)
            .await?;
        let updated = tx.update_tip_ranking(current, fields).await?;
        tx.commit().await?;
        Ok(Response::new(ranking_to_proto(&updated)))
    }

    async fn create_tip_recommendation(
        &self,
        request: Request<pb::CreateTipRecommendationRequest>,
    ) -> Result<Response<pb::TipRecommendation>, Status> {
        let call = call_context(&request)?;
        let request = request.into_inner();
        let idempotency = Idempotency::of(&request.request_id, &request)?;
        let mut violations = Violations::new();
        let country = violations.check(tip_report::parse_country("parent", &request.parent));
        let fields = match &request.tip_recommendation {
            Some(recommendation) => collect(
                &mut violations,
                input(recommendation).validate("tip_recommendation"),
            )?,
            None => {
                violations.add("tip_recommendation", "is required");
                None
            }
        };
        violations.finish()?;
        let (Some(country), Some(fields)) = (country, fields) else {
            return Err(Error::Internal("validated recommendation without values".into()).into());
        };

        let write_call = with_request_id(call, &request.request_id);
        let answer = Idempotency::write(&idempotency, &self.store, &write_call, async |tx| {
            let created = tx.create_tip_recommendation(&country, fields).await?;
            Ok(recommendation_to_proto(&created))
        })
        .await?;
        Ok(Response::new(answer))
    }

    async fn get_tip_recommendation(
        &self,
        request: Request<pb::GetTipRecommendationRequest>,
    ) -> Result<Response<pb::TipRecommendation>, Status> {
        call_context(&request)?;
        let (country, id) = tip_report::parse_recommendation_name("name", &request.get_ref().name)
            .map_err(invalid)?;
        let recommendation = self.store.get_tip_recommendation(&country, &id).await?;
        Ok(Response::new(recommendation_to_proto(&recommendation)))
    }

    async fn list_tip_recommendations(
        &self,
        request: Request<pb::ListTipRecommendationsRequest>,
    ) -> Result<Response<pb::ListTipRecommendationsResponse>, Status> {
        call_context(&request)?;
        let request = request.get_ref();
        let (countries, country_code) = self.list_parent(&request.parent).await?;
        let mut filter = parse_recommendation_filter(&request.filter)?;
        filter.country_code = country_code;
        filter.show_deleted = request.show_deleted;
        self.require_region(filter.region_code.as_deref()).await?;
        let query = format!(
            "{}|{}|{}",
            countries.parent(),
            request.filter,
            request.show_deleted
        );
        let after = paging::decode_token(&request.page_token, &query)?;
        let size = paging::page_size(request.page_size)?;
        let page = self
            .store
            .list_tip_recommendations(&filter, after, size)
            .await?;
        Ok(Response::new(pb::ListTipRecommendationsResponse {
            tip_recommendations: page.items.iter().map(recommendation_to_proto).collect(),
            next_page_token: paging::encode_token(page.next_after, &query),
        }))
    }

    async fn update_tip_recommendation(
        &self,
        request: Request<pb::UpdateTipRecommendationRequest>,
    ) -> Result<Response<pb::TipRecommendation>, Status> {
        let call = call_context(&request)?;
        let request = request.into_inner();
        let changes = request
            .tip_recommendation
            .ok_or_else(|| Error::invalid("tip_recommendation", "is required"))?;
        let (country, id) =
            tip_report::parse_recommendation_name("tip_recommendation.name", &changes.name)
                .map_err(invalid)?;
        let expected = parse_etag("tip_recommendation.etag", &changes.etag)?;
        let paths = mask_paths(request.update_mask.as_ref(), RECOMMENDATION_UPDATABLE)?;

        let mut tx = self.store.begin(&call).await?;
        let current = tx
            .tip_recommendation_for_update(&country, &id, expected)
            .await?;
        let mut merged = recommendation_to_proto(&current);
        for path in &paths {
            match path.as_str() {
                "report_year" => merged.report_year = changes.report_year,
                "pillar" => merged.pillar = changes.pillar,
                _ => merged.text = changes.text.clone(),
            }
        }
        let fields = input(&merged).validate("tip_recommendation")?;
        let updated = tx.update_tip_recommendation(current, fields).await?;
        tx.commit().await?;
        Ok(Response::new(recommendation_to_proto(&updated)))
    }

    async fn delete_tip_recommendation(
        &self,
        request: Request<pb::DeleteTipRecommendationRequest>,
    ) -> Result<Response<pb::TipRecommendation>, Status> {
        let call = call_context(&request)?;
        let request = request.get_ref();
        let (country, id) =
            tip_report::parse_recommendation_name("name", &request.name).map_err(invalid)?;
        let expected = parse_etag("etag", &request.etag)?;
        let mut tx = self.store.begin(&call).await?;
        let current = tx
            .tip_recommendation_for_update(&country, &id, expected)
            .await?;
        let deleted = tx.delete_tip_recommendation(current).await?;
        tx.commit().await?;
        Ok(Response::new(recommendation_to_proto(&deleted)))
    }
}
