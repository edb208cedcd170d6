import { ReviewInbox } from "~/components/review/review-inbox";

export default function ReviewPage() {
  return <ReviewInbox />;
}
