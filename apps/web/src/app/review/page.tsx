import { ReviewInbox } from "~/components/review-inbox";

export default function ReviewPage() {
  return <ReviewInbox />;
}
