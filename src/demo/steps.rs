//! One caller's steps about one subject of the demo (an award, a case), sent
//! to an API service in process as the auth layer would pass them on: each
//! under its own fixed request id, so a second run of the demo replays it.

use tonic::{Request, Response};

use crate::domain::access::Actor;
use crate::pb::v1 as pb;
use crate::store::CallContext;

pub(super) const SERVICE: &str = "/tipgrants.v1.";

/// A request as the auth layer would pass it on: from `actor`, to `method`, under `request_id`.
pub(super) fn call<T>(actor: &Actor, method: &str, request_id: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.extensions_mut().insert(CallContext {
        actor: actor.clone(),
        method: method.to_string(),
        request_id: request_id.to_string(),
    });
    request
}

pub(super) fn failed(what: &str) -> impl Fn(tonic::Status) -> String + '_ {
    move |status| {
        format!(
            "seed-demo: {what}: {:?}: {}",
            status.code(),
            status.message()
        )
    }
}

/// One caller's calls about one subject of the demo (an award, a case): each
/// step is sent under its own fixed request id, `seed-demo-{subject}-{step}`,
/// so a second run replays it; a failure names `what`.
pub(super) struct Steps<'a> {
    actor: &'a Actor,
    subject: &'a str,
    what: &'a str,
}

impl<'a> Steps<'a> {
    pub(super) fn new(actor: &'a Actor, subject: &'a str, what: &'a str) -> Self {
        Steps {
            actor,
            subject,
            what,
        }
    }

    /// Sends step `step` to `method` (e.g. `GrantService/CreateGrant`): `message` is given
    /// the step's request id, `send` is the service's method; the answer.
    pub(super) async fn send<Message, Answer, Sent>(
        &self,
        method: &str,
        step: &str,
        message: impl FnOnce(String) -> Message,
        send: impl FnOnce(Request<Message>) -> Sent,
    ) -> Result<Answer, String>
    where
        Sent: Future<Output = Result<Response<Answer>, tonic::Status>>,
    {
        let request_id = format!("seed-demo-{}-{step}", self.subject);
        let request = call(
            self.actor,
            &format!("{SERVICE}{method}"),
            &request_id,
            message(request_id.clone()),
        );
        send(request)
            .await
            .map(Response::into_inner)
            .map_err(failed(self.what))
    }

    /// Sends a state change of the resource `name` (a request of only its name and request id).
    pub(super) async fn change<Message: StateChange, Answer, Sent>(
        &self,
        method: &str,
        step: &str,
        name: &str,
        send: impl FnOnce(Request<Message>) -> Sent,
    ) -> Result<Answer, String>
    where
        Sent: Future<Output = Result<Response<Answer>, tonic::Status>>,
    {
        let message = |request_id| Message::of(name.to_string(), request_id);
        self.send(method, step, message, send).await
    }
}

/// A state-change request that carries only the resource's name and a request id.
pub(super) trait StateChange {
    fn of(name: String, request_id: String) -> Self;
}

macro_rules! state_changes {
    ($($request:ty),+ $(,)?) => {$(
        impl StateChange for $request {
            fn of(name: String, request_id: String) -> Self {
                Self {
                    name,
                    request_id,
                    ..Default::default()
                }
            }
        }
    )+};
}

state_changes!(
    pb::ActivateGrantRequest,
    pb::StartProjectRequest,
    pb::CompleteProjectRequest,
    pb::SubmitOutcomeReportRequest,
    pb::AcceptOutcomeReportRequest,
    pb::SubmitFinancialReportRequest,
    pb::AcceptFinancialReportRequest,
    pb::StartCaseReviewRequest,
);
